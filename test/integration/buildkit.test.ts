/**
 * BuildKit `docker build` (the buildx 0.13 CLI plugin, `docker` driver) through the manager over real
 * engines: node-1 and node-2 run dockerd 20.10, node-3 dockerd 26 refusing clients below API 1.44
 * (as Docker Engine 29). The docker CLI runs with a private DOCKER_CONFIG holding the plugin, so no
 * builder container is ever involved: had buildx not found BuildKit behind the manager, it would try
 * to start moby/buildkit, which needs Docker Hub (unreachable here) and fails.
 *
 *   TESTBED_ID=5 npm run build && TESTBED_ID=5 node_modules/.bin/bun test --timeout 300000 test/integration/buildkit.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { dockerCli, testbedDown, testbedUp, type CliResult, type TestbedHost } from '../helpers/testbed';
import { FakeEngine } from '../unit/manager/fake-engine';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let work = '';
let hosts: TestbedHost[] = [];
const P = `bk${Date.now().toString(36)}`;

function docker(args: string[], opts: { timeoutS?: number; env?: Record<string, string>; at?: string } = {}): Promise<CliResult> {
  return dockerCli(opts.at ?? host, args, { timeoutMs: (opts.timeoutS ?? 120) * 1000, env: opts.env, dockerConfig: true });
}

/** A build context whose Dockerfile writes `text` into the image and prints it when run. */
function context(name: string, text: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), `FROM busybox\nCOPY msg /msg\nRUN cat /msg > /built.txt\nCMD ["cat", "/built.txt"]\n`);
  writeFileSync(join(dir, 'msg'), `${text}\n`);
  return dir;
}

/** The nodes whose engine holds `image`, asked of each engine directly. */
async function nodesWith(image: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts) {
    const r = await docker(['images', '-q', image], { at: h.addr, timeoutS: 30 });
    if (r.code !== 0) throw new Error(`docker images on ${h.name}: ${r.stderr}`);
    if (r.stdout.trim()) out.push(h.name);
  }
  return out;
}

function expectBuilt(r: CliResult, image: string): void {
  if (r.code !== 0) throw new Error(`build of ${image} exited ${r.code}: ${r.stderr}${r.stdout}`);
  expect(r.stderr).toContain(`naming to docker.io/library/${image} done`);
  expect(r.stderr + r.stdout).not.toContain('moby/buildkit');
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-bk-it-'));
  hosts = await testbedUp(3, { engines: { 3: '26' }, minApi: { 3: '1.44' } });
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start(['manage', '-H', host, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitFor(
    '3 healthy nodes',
    async () => ((await docker(['info'], { timeoutS: 20 })).stdout.match(/Status: Healthy/g)?.length === hosts.length ? true : undefined),
    60_000,
    300,
  );
}, 600_000);

afterAll(async () => {
  await manager?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-buildkit-it.log'), manager.log());
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

describe('BuildKit docker build through the manager', () => {
  test('docker build uses BuildKit (buildx, docker driver) and the image lands on one node', async () => {
    const r = await docker(['build', '-t', `${P}-plain`, context('plain', 'plain build')]);
    expectBuilt(r, `${P}-plain`);
    expect(r.stderr).toMatch(/#\d+ \[internal\] load build definition from Dockerfile/);
    expect(await nodesWith(`${P}-plain`)).toHaveLength(1);
    const ls = await docker(['buildx', 'ls']);
    expect(ls.stdout).toMatch(/default\*?\s+docker/);
  });

  test('--build-arg constraint:node==node-2 builds on node-2 only', async () => {
    const r = await docker(['build', '--build-arg', 'constraint:node==node-2', '-t', `${P}-on2`, context('on2', 'built on two')]);
    expectBuilt(r, `${P}-on2`);
    expect(await nodesWith(`${P}-on2`)).toEqual(['node-2']);
  });

  test('a build on the dockerd 26 node, then docker run of it through the manager runs there', async () => {
    const r = await docker(['build', '--build-arg', 'constraint:node==node-3', '-t', `${P}-on3`, context('on3', 'hello from node-3')]);
    expectBuilt(r, `${P}-on3`);
    expect(await nodesWith(`${P}-on3`)).toEqual(['node-3']);
    // Right after the build: the manager's image cache must already know the image is on node-3.
    const run = await docker(['run', '--name', `${P}-ran`, `${P}-on3`], { timeoutS: 60 });
    expect(run.stdout).toBe('hello from node-3\n');
    expect((await docker(['inspect', '-f', '{{.Node.Name}}', `${P}-ran`])).stdout.trim()).toBe('node-3');
    expect((await docker(['rm', `${P}-ran`])).code).toBe(0);
  });

  test('concurrent builds with different constraints each land on their node', async () => {
    const [a, b] = await Promise.all([
      docker(['build', '--build-arg', 'constraint:node==node-1', '-t', `${P}-par1`, context('par1', 'parallel one')]),
      docker(['build', '--build-arg', 'constraint:node==node-2', '-t', `${P}-par2`, context('par2', 'parallel two')]),
    ]);
    expectBuilt(a, `${P}-par1`);
    expectBuilt(b, `${P}-par2`);
    expect(await nodesWith(`${P}-par1`)).toEqual(['node-1']);
    expect(await nodesWith(`${P}-par2`)).toEqual(['node-2']);
  });

  test('a context of 20 MB goes through the session to the chosen node intact', async () => {
    const dir = join(work, 'big');
    mkdirSync(dir, { recursive: true });
    const blob = Buffer.alloc(20 << 20);
    for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeFileSync(join(dir, 'blob'), blob);
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox\nCOPY blob /blob\nRUN wc -c < /blob > /size\n');
    const r = await docker(['build', '--build-arg', 'constraint:node==node-2', '-t', `${P}-big`, dir], { timeoutS: 180 });
    expectBuilt(r, `${P}-big`);
    const size = await docker(['run', '--rm', `${P}-big`, 'cat', '/size']);
    expect(size.stdout.trim()).toBe(String(20 << 20));
  });

  test('a constraint no node meets is refused with the scheduler message, at once', async () => {
    const started = Date.now();
    const r = await docker(['build', '--build-arg', 'constraint:node==nowhere', '-t', `${P}-none`, context('none', 'never')], { timeoutS: 60 });
    expect(r.code).not.toBe(0);
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toContain('constraint node==nowhere not met');
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('DOCKER_BUILDKIT=0 still uses the legacy builder, with constraints', async () => {
    const r = await docker(['build', '--build-arg', 'constraint:node==node-1', '-t', `${P}-legacy`, context('legacy', 'legacy build')], {
      env: { DOCKER_BUILDKIT: '0' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Successfully tagged ${P}-legacy:latest`);
    expect(await nodesWith(`${P}-legacy`)).toEqual(['node-1']);
    expect((await docker(['run', '--rm', `${P}-legacy`])).stdout).toBe('legacy build\n');
  });
});

describe('an engine without BuildKit', () => {
  test('the error names the node and what its /grpc endpoint answered', async () => {
    // The test's stand-in engine answers 404 on /grpc, like an engine older than BuildKit.
    const fake = new FakeEngine('old-1', 'OLD1');
    const addr = await fake.start();
    const otherHost = `tcp://127.0.0.1:${await freePort()}`;
    const other = bin.start(['manage', '-H', otherHost, `nodes://${addr}`]);
    try {
      await waitFor('the stand-in engine healthy', async () => ((await docker(['info'], { at: otherHost, timeoutS: 20 })).stdout.includes('Status: Healthy') ? true : undefined), 30_000, 200);
      const r = await docker(['build', '-t', `${P}-old`, context('old', 'old')], { at: otherHost, timeoutS: 60 });
      expect(r.code).not.toBe(0);
      expect(r.timedOut).toBe(false);
      expect(r.stderr).toContain('node old-1 (');
      expect(r.stderr).toContain('cannot run BuildKit builds: its /grpc endpoint answered HTTP 404: page not found');
    } finally {
      await other.stop();
      await fake.stop();
    }
  });
});
