/**
 * The FROM-scratch image (Dockerfile.scratch, scripts/image.sh build) on a mixed test bed (host 2 is
 * dockerd 26 refusing API < 1.44): built with host 1's engine, then run there with --net host (host
 * 1's network namespace), so a manager in the image is reachable from here at <host 1 IP>:3375 and
 * reaches every engine. Also: create/join/list against a token server from the image, etcd discovery
 * from the image, the talk's commands as written (image loaded on every host, published ports, the
 * default bridge network), and the small variant (scripts/image.sh build --small).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort, waitFor } from '../helpers/swarm-bin';
import { dockerCli, run, testbedDown, testbedUp, TESTBED_ID, waitForHealthyNodes, type CliResult, type TestbedHost } from '../helpers/testbed';

const REPO = resolve(import.meta.dir, '../..');
const TAG = 'swarm:it';
const BRIDGE_IP = `10.99.${TESTBED_ID || '0'}.1`;
let hosts: TestbedHost[] = [];
let h1 = '';
let work = '';
let etcd: Subprocess | undefined;

/** docker against host 1's engine (where the image lives). */
function engine(args: string[], timeoutS = 60): Promise<CliResult> {
  return dockerCli(h1, args, { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(args: string[], timeoutS = 60): Promise<string> {
  const r = await engine(args, timeoutS);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `docker run --rm --net host swarm:it ...args` on host 1. */
function swarmInImage(args: string[], timeoutS = 30): Promise<CliResult> {
  return engine(['run', '--rm', '--net', 'host', TAG, ...args], timeoutS);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-image-it-'));
  hosts = await testbedUp(3, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  h1 = hosts[0]!.addr;
  const r = await run(['bash', join(REPO, 'scripts/image.sh'), 'build', '-t', TAG], { timeoutMs: 300_000, env: { DOCKER_HOST: `tcp://${h1}` } });
  if (r.code !== 0) throw new Error(`image.sh build: ${r.stderr}${r.stdout}`);
}, 500_000);

afterAll(async () => {
  etcd?.kill('SIGKILL');
  await testbedDown();
  rmSync(work, { recursive: true, force: true });
}, 200_000);

describe('FROM-scratch image', () => {
  test('holds exactly the binary, the loader and libraries ldd lists, and CA certificates', async () => {
    const ldd = await run(['ldd', join(REPO, 'dist/swarm')]);
    const libs = ldd.stdout
      .split('\n')
      .map((l) => (/=>\s*(\S+)/.exec(l)?.[1] ?? /^\s*(\/\S+)/.exec(l)?.[1]) ?? '')
      .filter((p) => p.startsWith('/'))
      .map((p) => p.slice(1))
      .sort();
    expect(libs).toContain('lib64/ld-linux-x86-64.so.2');
    const id = (await ok(['create', TAG])).trim();
    const tar = await run(['bash', '-c', `docker -H tcp://${h1} export ${id} | tar -t`], { env: { DOCKER_CONFIG: join(work, '.docker') } });
    await ok(['rm', id]);
    const files = tar.stdout
      .split('\n')
      .filter((f) => f && !f.endsWith('/'))
      // What the engine itself puts in every container.
      .filter((f) => !['.dockerenv', 'etc/hostname', 'etc/hosts', 'etc/resolv.conf', 'etc/mtab', 'dev/console'].includes(f))
      .sort();
    expect(files).toEqual([...libs, 'etc/ssl/certs/ca-certificates.crt', 'swarm'].sort());
  });

  test('docker run --rm swarm --help', async () => {
    const r = await engine(['run', '--rm', TAG, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Native clustering for Docker');
    expect(r.stdout).toContain('manage');
  });

  test('the image as the manager of the test bed, driven by the docker CLI', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'swarm-manager',
      '--net',
      'host',
      TAG,
      'manage',
      '-H',
      'tcp://0.0.0.0:3375',
      '--engine-refresh-min-interval',
      '1s',
      '--engine-refresh-max-interval',
      '2s',
      `nodes://${hosts.map((h) => h.addr).join(',')}`,
    ]);
    const manager = `${hosts[0]!.ip}:3375`;
    const env = { DOCKER_CONFIG: join(work, '.docker') };
    const info = await waitForHealthyNodes(manager, 3, { env });
    expect(info).toContain('Nodes: 3');
    for (const h of hosts) expect(info).toContain(`${h.name}: ${h.addr}`);
    const hi = await dockerCli(manager, ['run', '--rm', 'busybox', 'echo', 'hi'], { timeoutMs: 60_000, env });
    expect(hi.stdout.trim()).toBe('hi');
    expect((await ok(['logs', 'swarm-manager'])) + (await engine(['logs', 'swarm-manager'])).stderr).toContain('Manager started');
    await ok(['rm', '-f', 'swarm-manager']);
  }, 120_000);

  test('create, join and list against a token server from the image', async () => {
    await ok(['run', '-d', '--name', 'swarm-tokens', '--net', 'host', TAG, 'token-server', '--memory', '-H', 'tcp://0.0.0.0:8600']);
    const url = `http://${hosts[0]!.ip}:8600/v1`;
    const token = await waitFor(
      'a token',
      async () => {
        const r = await swarmInImage(['create', '--discovery-url', url]);
        return r.code === 0 && /^[0-9a-f]{32}$/.test(r.stdout.trim()) ? r.stdout.trim() : undefined;
      },
      20_000,
      300,
    );
    await ok(['run', '-d', '--name', 'swarm-join', '--net', 'host', TAG, 'join', '--advertise', hosts[1]!.addr, '--heartbeat', '1s', '--ttl', '5s', '--discovery-url', url, `token://${token}`]);
    const listed = await waitFor(
      'the joined node listed',
      async () => {
        const r = await swarmInImage(['list', '--discovery-url', url, `token://${token}`]);
        return r.stdout.includes(hosts[1]!.addr) ? r.stdout : undefined;
      },
      20_000,
      500,
    );
    expect(listed.trim()).toBe(hosts[1]!.addr);
    await ok(['rm', '-f', 'swarm-join', 'swarm-tokens']);
  }, 90_000);

  test('etcd discovery from the image (etcd3 protos are inside the binary)', async () => {
    const port = await freePort(BRIDGE_IP);
    const peer = await freePort('127.0.0.1');
    etcd = Bun.spawn(
      [
        '/usr/bin/etcd',
        '--name',
        'image-it',
        '--data-dir',
        join(work, 'etcd'),
        '--listen-client-urls',
        `http://${BRIDGE_IP}:${port}`,
        '--advertise-client-urls',
        `http://${BRIDGE_IP}:${port}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-cluster',
        `image-it=http://127.0.0.1:${peer}`,
        '--log-level',
        'warn',
      ],
      { stdout: 'ignore', stderr: 'ignore' },
    );
    await waitFor('etcd', async () => ((await fetch(`http://${BRIDGE_IP}:${port}/health`).then((r) => r.ok).catch(() => false)) ? true : undefined), 30_000, 200);
    const disc = `etcd://${BRIDGE_IP}:${port}/swarm`;
    await ok(['run', '-d', '--name', 'swarm-join-etcd', '--net', 'host', TAG, 'join', '--advertise', hosts[2]!.addr, '--heartbeat', '1s', '--ttl', '5s', disc]);
    const listed = await waitFor(
      'the node in etcd',
      async () => {
        const r = await swarmInImage(['list', disc]);
        return r.stdout.includes(hosts[2]!.addr) ? r.stdout : undefined;
      },
      30_000,
      500,
    );
    expect(listed.trim()).toBe(hosts[2]!.addr);
    await ok(['rm', '-f', 'swarm-join-etcd']);
  }, 90_000);

  test('TLS material is checked inside the image too (one-line error, exit 1)', async () => {
    const certs = join(work, 'certs');
    const r = await run(['bash', join(REPO, 'scripts/certs.sh'), certs]);
    expect(r.code).toBe(0);
    const bad = await engine(['run', '--rm', '-v', `${certs}:/certs:ro`, TAG, 'manage', '--tls', '--tlscert', '/certs/server-cert.pem', '--tlskey', '/certs/client-key.pem', 'nodes://127.0.0.1:2376']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("Couldn't load X509 key pair (/certs/server-cert.pem, /certs/client-key.pem): private key does not match public key. Key encrypted?");
  });
});

/** The image `tag` of host 1 loaded into every other host's engine. */
async function loadEverywhere(tag: string): Promise<void> {
  for (const h of hosts.slice(1)) {
    const r = await run(['bash', '-c', `docker -H tcp://${h1} save ${tag} | docker -H tcp://${h.addr} load -q`], { timeoutMs: 180_000, env: { DOCKER_CONFIG: join(work, '.docker') } });
    if (r.code !== 0) throw new Error(`loading ${tag} into ${h.name}: ${r.stderr}`);
  }
}

describe("the talk's image and commands", () => {
  const TOKEN_PORT = 8601;
  const MANAGER_PORT = 4000;

  test('the image is configured as the talk\'s Dockerfile', async () => {
    const config = JSON.parse(await ok(['image', 'inspect', '-f', '{{json .Config}}', TAG])) as {
      Env: string[];
      ExposedPorts: Record<string, object>;
      Volumes: Record<string, object>;
      Entrypoint: string[];
      Cmd: string[];
    };
    expect(config.Env).toContain('SWARM_HOST=:2375');
    expect(Object.keys(config.ExposedPorts)).toEqual(['2375/tcp']);
    expect(Object.keys(config.Volumes)).toEqual(['/.swarm']);
    expect(config.Entrypoint).toEqual(['/swarm']);
    expect(config.Cmd).toEqual(['--help']);
  });

  test('create, join on every node, list, manage with a published port: as written, the token service named by SWARM_DISCOVERY_URL', async () => {
    await ok(['tag', TAG, 'swarm']);
    await loadEverywhere('swarm:latest');
    const url = `http://${hosts[0]!.ip}:${TOKEN_PORT}/v1`;
    const on = (h: TestbedHost, args: string[], timeoutS = 60) =>
      dockerCli(h.addr, args, { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
    // The token service itself, from the image on host 1, its state in the /.swarm volume.
    await ok(['run', '-d', '--name', 'swarm-talk-tokens', '-p', `${TOKEN_PORT}:${TOKEN_PORT}`, 'swarm', 'token-server', '-H', `:${TOKEN_PORT}`]);
    // docker run --rm swarm create (here on host 2, dockerd 26)
    const token = await waitFor(
      'a token',
      async () => {
        const r = await on(hosts[1]!, ['run', '--rm', '-e', `SWARM_DISCOVERY_URL=${url}`, 'swarm', 'create']);
        return r.code === 0 && /^[0-9a-f]{32}$/.test(r.stdout.trim()) ? r.stdout.trim() : undefined;
      },
      20_000,
      300,
    );
    // docker run -d swarm join --addr=<node ip:2375> token://<id>, on each node
    for (const h of hosts) {
      const r = await on(h, ['run', '-d', '--name', 'swarm-talk-join', '-e', `SWARM_DISCOVERY_URL=${url}`, 'swarm', 'join', `--addr=${h.addr}`, `token://${token}`]);
      expect(r.code).toBe(0);
    }
    // docker run --rm swarm list token://<id>
    const all = hosts.map((h) => h.addr).sort();
    const listed = await waitFor(
      'every node listed',
      async () => {
        const r = await engine(['run', '--rm', '-e', `SWARM_DISCOVERY_URL=${url}`, 'swarm', 'list', `token://${token}`]);
        const nodes = r.stdout.trim().split('\n').filter(Boolean).sort();
        return nodes.length === all.length ? nodes : undefined;
      },
      30_000,
      500,
    );
    expect(listed).toEqual(all);
    // docker run -d -p <port>:2375 swarm manage token://<id>: SWARM_HOST=:2375 from the image
    await ok(['run', '-d', '--name', 'swarm-talk-manage', '-e', `SWARM_DISCOVERY_URL=${url}`, '-p', `${MANAGER_PORT}:2375`, 'swarm', 'manage', `token://${token}`]);
    const manager = `${hosts[0]!.ip}:${MANAGER_PORT}`;
    const env = { DOCKER_CONFIG: join(work, '.docker') };
    const info = await waitForHealthyNodes(manager, 3, { env }, 60_000, 500);
    expect(info).toContain('Nodes: 3');
    for (const h of hosts) expect(info).toContain(`${h.name}: ${h.addr}`);
    const hi = await dockerCli(manager, ['run', '--rm', 'busybox', 'echo', 'hi'], { timeoutMs: 60_000, env });
    expect(hi.stdout.trim()).toBe('hi');
    // The token service's state lives in /.swarm: a restarted token server still knows the cluster.
    const volume = (await ok(['inspect', '-f', '{{range .Mounts}}{{.Destination}} {{.Type}}{{end}}', 'swarm-talk-tokens'])).trim();
    expect(volume).toBe('/.swarm volume');
    await ok(['restart', 'swarm-talk-tokens']);
    const again = await waitFor(
      'the cluster after a restart',
      async () => {
        const r = await engine(['run', '--rm', '-e', `SWARM_DISCOVERY_URL=${url}`, 'swarm', 'list', `token://${token}`]);
        return r.code === 0 && r.stdout.trim() ? r.stdout.trim().split('\n').sort() : undefined;
      },
      20_000,
      300,
    );
    expect(again).toEqual(all);
    for (const h of hosts) await on(h, ['rm', '-f', '-v', 'swarm-talk-join']);
    await ok(['rm', '-f', '-v', 'swarm-talk-manage', 'swarm-talk-tokens']);
  }, 240_000);
});

describe('small image (scripts/image.sh build --small)', () => {
  const SMALL = 'swarm:it-small';

  beforeAll(async () => {
    // Level 3 keeps the test fast; the shipped level (19) differs only in the size of the payload.
    const r = await run(['bash', join(REPO, 'scripts/image.sh'), 'build', '--small', '-t', SMALL], {
      timeoutMs: 300_000,
      env: { DOCKER_HOST: `tcp://${h1}`, SWARM_ZSTD_LEVEL: '3' },
    });
    if (r.code !== 0) throw new Error(`image.sh build --small: ${r.stderr}${r.stdout}`);
  }, 320_000);

  test('its /swarm is the static loader with the binary compressed, less than half the plain image', async () => {
    const [small, plain] = await Promise.all([ok(['image', 'inspect', '-f', '{{.Size}}', SMALL]), ok(['image', 'inspect', '-f', '{{.Size}}', TAG])]);
    expect(Number(small)).toBeLessThan(Number(plain) / 2);
    const id = (await ok(['create', SMALL])).trim();
    const file = join(work, 'small-swarm');
    await ok(['cp', `${id}:/swarm`, file]);
    await ok(['rm', id]);
    const kind = await run(['file', '-b', file]);
    expect(kind.stdout).toContain('statically linked');
    expect(readFileSync(file).subarray(-8).toString()).toBe('SWARMZST');
  });

  test('runs the real binary: same output for --version, --help and list, on a read-only root', async () => {
    const bin = join(REPO, 'dist/swarm');
    for (const args of [['--version'], ['--help'], ['list', 'nodes://10.0.0.1:2375,10.0.0.[2:3]:2375']]) {
      const r = await engine(['run', '--rm', '--read-only', SMALL, ...args]);
      const local = await run([bin, ...args], { env: { FORCE_COLOR: '0' } });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(local.stdout);
    }
  });

  test('as the manager of the test bed: argv, the image\'s and -e environment, pid 1 and SIGTERM are the binary\'s own', async () => {
    await ok([
      'run',
      '-d',
      '--name',
      'swarm-small-manager',
      '--net',
      'host',
      '-e',
      'SWARM_HOST=tcp://0.0.0.0:3376',
      SMALL,
      'manage',
      '--engine-refresh-min-interval',
      '1s',
      '--engine-refresh-max-interval',
      '2s',
      `nodes://${hosts.map((h) => h.addr).join(',')}`,
    ]);
    const manager = `${hosts[0]!.ip}:3376`;
    const env = { DOCKER_CONFIG: join(work, '.docker') };
    const info = await waitForHealthyNodes(manager, 3, { env });
    expect(info).toContain('Nodes: 3');
    // The container's main process is swarm itself, with the argv it was given.
    const top = await ok(['top', 'swarm-small-manager', '-o', 'pid,args']);
    expect(top).toContain('/swarm manage --engine-refresh-min-interval 1s');
    expect(top.trim().split('\n')).toHaveLength(2);
    const started = Date.now();
    await ok(['stop', '-t', '20', 'swarm-small-manager']);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await ok(['inspect', '-f', '{{.State.ExitCode}}', 'swarm-small-manager'])).trim()).toBe('0');
    const logs = await engine(['logs', 'swarm-small-manager']);
    expect(logs.stdout + logs.stderr).toContain('Manager started');
    await ok(['rm', '-f', 'swarm-small-manager']);
  }, 120_000);
});
