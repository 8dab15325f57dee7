/**
 * scripts/testbed.sh itself: three real engines that are really distinct, with the busybox image,
 * working containers, the requested storage drivers and labels, and a dockerd that can be killed
 * and started again; then a bed mixing dockerd 20.10 and dockerd 26 (minimum API 1.44, as Docker
 * Engine 29), with the docker CLI plugins buildx and compose from a private DOCKER_CONFIG.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clusterKindFromEnv,
  dockerCli,
  killEngine,
  privateDockerConfig,
  readHosts,
  restartEngine,
  startEngine,
  testbedDown,
  testbedScript,
  testbedUp,
  type TestbedHost,
} from '../helpers/testbed';

let hosts: TestbedHost[] = [];

async function info(h: TestbedHost): Promise<{ ID: string; Name: string; Driver: string; Labels: string[] }> {
  const r = await dockerCli(h.addr, ['info', '--format', '{{json .}}'], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`docker info on ${h.addr} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ID: string; Name: string; Driver: string; Labels: string[] };
}

const net = process.env.TESTBED_ID || '0';

describe('testbed', () => {
  beforeAll(async () => {
    hosts = await testbedUp(3, {
      labels: { 1: { init: 'systemd', environment: 'production' }, 3: { region: 'eu' } },
    });
  }, 300_000);

  afterAll(async () => {
    await testbedDown();
  }, 120_000);

  test('three hosts in the hosts file', () => {
    expect(hosts.map((h) => `${h.name} ${h.addr} ${h.storageDriver} ${h.engine}`)).toEqual([
      `node-1 10.99.${net}.11:2375 overlay2 20.10`,
      `node-2 10.99.${net}.12:2375 btrfs 20.10`,
      `node-3 10.99.${net}.13:2375 vfs 20.10`,
    ]);
    expect(readHosts()).toEqual(hosts);
  });

  test('engines are distinct: IDs, names, storage drivers', async () => {
    const infos = await Promise.all(hosts.map(info));
    expect(new Set(infos.map((i) => i.ID)).size).toBe(3);
    expect(infos.map((i) => i.Name)).toEqual(['node-1', 'node-2', 'node-3']);
    expect(infos.map((i) => i.Driver)).toEqual(['overlay2', 'btrfs', 'vfs']);
  });

  test('labels given at start show in docker info', async () => {
    const infos = await Promise.all(hosts.map(info));
    expect(infos[0]!.Labels).toEqual(expect.arrayContaining(['init=systemd', 'environment=production']));
    expect(infos[1]!.Labels ?? []).toEqual([]);
    expect(infos[2]!.Labels).toEqual(['region=eu']);
  });

  test('busybox:latest exists on each engine, with the same image ID', async () => {
    const ids = await Promise.all(
      hosts.map(async (h) => {
        const r = await dockerCli(h.addr, ['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest']);
        expect(r.code).toBe(0);
        return r.stdout.trim();
      }),
    );
    expect(ids[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(new Set(ids).size).toBe(1);
  });

  test('docker run --rm busybox echo hi works on each host', async () => {
    for (const h of hosts) {
      const r = await dockerCli(h.addr, ['run', '--rm', 'busybox', 'echo', 'hi'], { timeoutMs: 60_000 });
      expect({ host: h.name, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ host: h.name, code: 0, stdout: 'hi\n', stderr: '' });
    }
  }, 120_000);

  test('published ports are reachable from the root namespace and from the other hosts', async () => {
    const h1 = hosts[0]!;
    const run = await dockerCli(h1.addr, ['run', '-d', '--name', 'tb-web', '-p', '8080:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
    expect(run.code).toBe(0);
    try {
      let body = '';
      for (let i = 0; i < 50 && !body; i++) {
        body = await fetch(`http://${h1.ip}:8080/hostname`)
          .then((res) => (res.ok ? res.text() : ''))
          .catch(() => '');
        if (!body) await Bun.sleep(100);
      }
      expect(body.trim()).toMatch(/^[0-9a-f]{12}$/);
      // busybox 1.35's wget -T segfaults: bound it with timeout instead
      const r = await dockerCli(hosts[2]!.addr, ['run', '--rm', 'busybox', 'timeout', '10', 'wget', '-qO-', `http://${h1.ip}:8080/hostname`]);
      expect(r.stdout.trim()).toBe(body.trim());
    } finally {
      await dockerCli(h1.addr, ['rm', '-f', 'tb-web']);
    }
  }, 60_000);

  test('kill-engine makes the API go away, start-engine brings it back with the same ID', async () => {
    const h2 = hosts[1]!;
    const before = await info(h2);
    await killEngine(2);
    const down = await dockerCli(h2.addr, ['version'], { timeoutMs: 10_000 });
    expect(down.code).not.toBe(0);
    await startEngine(2);
    const after = await info(h2);
    expect(after.ID).toBe(before.ID);
    expect(after.Name).toBe('node-2');
    const r = await dockerCli(h2.addr, ['run', '--rm', 'busybox', 'echo', 'back'], { timeoutMs: 60_000 });
    expect(r.stdout).toBe('back\n');
  }, 120_000);
});

interface VersionBody {
  Version: string;
  ApiVersion: string;
  MinAPIVersion: string;
  Components?: { Name: string; Version: string }[];
}

async function engineVersion(h: TestbedHost): Promise<VersionBody> {
  const res = await fetch(`http://${h.addr}/version`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return (await res.json()) as VersionBody;
}

describe('mixed testbed: dockerd 20.10 and dockerd 26 with minimum API 1.44', () => {
  beforeAll(async () => {
    hosts = await testbedUp(2, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  }, 300_000);

  afterAll(async () => {
    await testbedDown();
  }, 120_000);

  test('the hosts file records each host engine kind', () => {
    expect(hosts.map((h) => `${h.name} ${h.engine}`)).toEqual(['node-1 20.10', 'node-2 26']);
    expect(readHosts()).toEqual(hosts);
  });

  test('GET /version: host 1 is 20.10 (API 1.41), host 2 is 26.1.5 (API 1.45, minimum 1.44) with containerd 1.7', async () => {
    const [v1, v2] = await Promise.all(hosts.map(engineVersion));
    expect(v1!.Version).toStartWith('20.10.');
    expect(v1!.ApiVersion).toBe('1.41');
    expect(v2!.Version).toStartWith('26.1.5');
    expect(v2!.ApiVersion).toBe('1.45');
    expect(v2!.MinAPIVersion).toBe('1.44');
    expect(v2!.Components?.find((c) => c.Name === 'containerd')?.Version).toStartWith('1.7.');
  });

  test('host 2 refuses API 1.41 as Docker Engine 29 does; host 1 answers it', async () => {
    const old = await fetch(`http://${hosts[1]!.addr}/v1.41/info`, { signal: AbortSignal.timeout(10_000) });
    expect(old.status).toBe(400);
    const body = (await old.json()) as { message: string };
    expect(body.message).toContain('client version 1.41 is too old. Minimum supported API version is 1.44');
    const ok = await fetch(`http://${hosts[0]!.addr}/v1.41/info`, { signal: AbortSignal.timeout(10_000) });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
  });

  test('status shows each engine version and API versions', async () => {
    const r = await testbedScript(['status'], 60_000);
    const lines = r.stdout.split('\n');
    expect(lines.find((l) => l.startsWith('node-1 '))).toMatch(/\s20\.10\s.*\sup\s+20\.10\.\S+ api 1\.41 min 1\.12\s/);
    expect(lines.find((l) => l.startsWith('node-2 '))).toMatch(/\s26\s.*\sup\s+26\.1\.5\S* api 1\.45 min 1\.44\s/);
  });

  test('the docker CLI runs busybox on each host directly', async () => {
    const rs = await Promise.all(hosts.map((h) => dockerCli(h.addr, ['run', '--rm', 'busybox', 'echo', 'hi'], { timeoutMs: 60_000 })));
    expect(rs.map((r) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr }))).toEqual([
      { code: 0, stdout: 'hi\n', stderr: '' },
      { code: 0, stdout: 'hi\n', stderr: '' },
    ]);
  }, 120_000);

  test('a private DOCKER_CONFIG has buildx 0.13.1 and compose 2.26.1, and leaves ~/.docker alone', async () => {
    const home = existsSync(join(homedir(), '.docker'));
    const h2 = hosts[1]!.addr;
    const buildx = await dockerCli(h2, ['buildx', 'version'], { dockerConfig: true, timeoutMs: 20_000 });
    expect(buildx.code).toBe(0);
    expect(buildx.stdout).toMatch(/^github\.com\/docker\/buildx 0\.13\.1\b/);
    const compose = await dockerCli(h2, ['compose', 'version'], { dockerConfig: true, timeoutMs: 20_000 });
    expect(compose.code).toBe(0);
    expect(compose.stdout).toMatch(/^Docker Compose version v?2\.26\.1\b/);
    expect(privateDockerConfig()).toStartWith(tmpdir());
    expect(privateDockerConfig()).toBe(privateDockerConfig());
    expect(readdirSync(join(privateDockerConfig(), 'cli-plugins')).sort()).toEqual(['docker-buildx', 'docker-compose']);
    expect(existsSync(join(homedir(), '.docker'))).toBe(home);
  }, 60_000);

  test('docker buildx build with the docker driver against host 2 builds FROM the local busybox', async () => {
    const ctx = mkdtempSync(join(tmpdir(), 'swarm-tb-build-'));
    try {
      writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built\n');
      const h2 = hosts[1]!.addr;
      const build = await dockerCli(h2, ['buildx', 'build', '--progress', 'plain', '-t', 'tb-build:1', ctx], {
        dockerConfig: true,
        timeoutMs: 120_000,
      });
      expect({ code: build.code, stderr: build.code === 0 ? '' : build.stderr }).toEqual({ code: 0, stderr: '' });
      expect(build.stderr).toContain('using docker driver');
      const r = await dockerCli(h2, ['run', '--rm', 'tb-build:1', 'cat', '/built'], { timeoutMs: 60_000 });
      expect(r.stdout).toBe('built\n');
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  }, 180_000);

  test('restart-engine keeps host 2 on dockerd 26 with minimum API 1.44', async () => {
    await restartEngine(2);
    const v = await engineVersion(hosts[1]!);
    expect([v.Version.slice(0, 6), v.ApiVersion, v.MinAPIVersion]).toEqual(['26.1.5', '1.45', '1.44']);
    const r = await dockerCli(hosts[1]!.addr, ['run', '--rm', 'busybox', 'echo', 'back'], { timeoutMs: 60_000 });
    expect(r.stdout).toBe('back\n');
  }, 120_000);
});

describe('clusterKindFromEnv', () => {
  function withEnv<T>(value: string | undefined, f: () => T): T {
    const saved = process.env.SWARM_TEST_CLUSTER;
    if (value === undefined) delete process.env.SWARM_TEST_CLUSTER;
    else process.env.SWARM_TEST_CLUSTER = value;
    try {
      return f();
    } finally {
      if (saved === undefined) delete process.env.SWARM_TEST_CLUSTER;
      else process.env.SWARM_TEST_CLUSTER = saved;
    }
  }

  test('2010 (the default) asks for nothing: every host runs dockerd 20.10', () => {
    expect(withEnv(undefined, () => clusterKindFromEnv())).toEqual({});
    expect(withEnv('2010', () => clusterKindFromEnv())).toEqual({});
  });

  test('mixed: odd hosts dockerd 20.10, even hosts dockerd 26 with minimum API 1.44', () => {
    expect(withEnv('mixed', () => clusterKindFromEnv(5))).toEqual({
      engines: { all: '20.10', 2: '26', 4: '26' },
      minApi: { 2: '1.44', 4: '1.44' },
    });
  });

  test('anything else is an error', () => {
    expect(() => withEnv('29', () => clusterKindFromEnv())).toThrow(/SWARM_TEST_CLUSTER/);
  });
});
