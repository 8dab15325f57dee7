/**
 * Global containers on real parts: 3 testbed engines (host 2 is dockerd 26 refusing API < 1.44),
 * the compiled manager on a file:// discovery that lists hosts 1 and 2 at first, the real docker
 * CLI. `docker run -d -l com.docker.swarm.global=true --name g …` runs one copy per node; the 3rd
 * host added to the file gets its copy; constraints and port conflicts choose nodes; a drained node
 * gets none until activated; a node whose engine was killed gets its copy (and its stopped copy
 * started, the copy of a container removed meanwhile removed) when it comes back; stop/start act on
 * every copy; `docker rm -f g` removes them all.
 * Each engine is asked directly what it holds.
 *
 * Run: TESTBED_ID=8 bun test test/integration/global.test.ts   (root; npm run build first)
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, run, startEngine, testbedDown, testbedUp, type TestbedHost } from '../helpers/testbed';

const P = `gl${Date.now().toString(36)}`;
const GLOBAL_ID = '{{index .Config.Labels "com.docker.swarm.global.id"}}';
const SWARM_ID = '{{index .Config.Labels "com.docker.swarm.id"}}';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let hosts: TestbedHost[] = [];
let work = '';
let nodesFile = '';

function docker(addr: string, args: string[], timeoutS = 60) {
  return run(['docker', '-H', addr.includes('://') ? addr : `tcp://${addr}`, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(args: string[], addr = host): Promise<string> {
  const r = await docker(addr, args);
  if (r.code !== 0) throw new Error(`docker -H ${addr} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

function engine(name: string): TestbedHost {
  return hosts.find((h) => h.name === name)!;
}

/** What one engine itself says about the container `name`: `<id> <state> <global id> <swarm id>`, or undefined. */
async function onEngine(node: string, name: string): Promise<{ id: string; state: string; globalId: string; swarmId: string } | undefined> {
  const r = await docker(engine(node).addr, ['inspect', '-f', `{{.Id}} {{.State.Status}} ${GLOBAL_ID} ${SWARM_ID}`, name], 15);
  if (r.code !== 0) return undefined;
  const [id, state, globalId, swarmId] = r.stdout.trim().split(' ');
  return { id: id!, state: state!, globalId: globalId!, swarmId: swarmId! };
}

/** The nodes whose engine holds `name` in `state` (any state when omitted). */
async function holders(name: string, state?: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts) {
    const c = await onEngine(h.name, name);
    if (c && (state === undefined || c.state === state)) out.push(h.name);
  }
  return out;
}

function waitHolders(name: string, want: string[], state = 'running', timeoutMs = 30_000) {
  return waitFor(`${name} ${state} on ${want.join(',')}`, async () => ((await holders(name, state)).join(',') === want.join(',') ? true : undefined), timeoutMs, 500);
}

async function healthyCount(): Promise<number> {
  return (await docker(host, ['info'], 15)).stdout.match(/Status: Healthy/g)?.length ?? 0;
}

function swarm(args: string[]) {
  return bin.run(args, { timeoutMs: 20_000 });
}

const g = `${P}-g`;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-global-it-'));
  hosts = await testbedUp(3, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  nodesFile = join(work, 'nodes');
  writeFileSync(nodesFile, `${engine('node-1').addr}\n${engine('node-2').addr}\n`);
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start([
    'manage',
    '-H',
    host,
    '--heartbeat',
    '1s',
    '--engine-failure-retry',
    '1',
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    `file://${nodesFile}`,
  ]);
  await waitFor('2 healthy nodes', async () => ((await healthyCount()) === 2 ? true : undefined), 60_000, 300);
}, 600_000);

afterAll(async () => {
  await manager?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-global-it.log'), manager.log());
  bin?.cleanup();
  await testbedDown().catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe('global containers', () => {
  test('docker run -d -l com.docker.swarm.global=true: one running copy per node, the answer is the first copy', async () => {
    const id = await ok(['run', '-d', '-l', 'com.docker.swarm.global=true', '--name', g, 'busybox', 'sleep', '1000']);
    expect(await holders(g, 'running')).toEqual(['node-1', 'node-2']);
    const one = (await onEngine('node-1', g))!;
    const two = (await onEngine('node-2', g))!;
    // The first copy (nodes in name order) is the create's answer; `docker run` started every copy.
    expect(id).toBe(one.id);
    expect(one.globalId).toMatch(/^[0-9a-f]{64}$/);
    expect(two.globalId).toBe(one.globalId);
    expect(two.swarmId).not.toBe(one.swarmId);
    const ps = (await ok(['ps', '--filter', `name=^${g}$`, '--format', '{{.Names}}'])).split('\n').sort();
    expect(ps).toEqual([`node-1/${g}`, `node-2/${g}`]);
    // The name names both copies: calls that reach one copy ask for <node>/<name>.
    const r = await docker(host, ['container', 'inspect', g]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`No such container: ${g} (${g} is a global container with 2 copies: node-1/${g}, node-2/${g}; name one as <node>/<name>)`);
    expect(await ok(['inspect', '-f', '{{.Node.Name}}', `node-2/${g}`])).toBe('node-2');
  }, 120_000);

  test('a node that joins (added to the file) gets its copy, running', async () => {
    writeFileSync(nodesFile, hosts.map((h) => `${h.addr}\n`).join(''));
    await waitFor('3 healthy nodes', async () => ((await healthyCount()) === 3 ? true : undefined), 60_000, 300);
    await waitHolders(g, ['node-1', 'node-2', 'node-3']);
    expect((await onEngine('node-3', g))!.globalId).toBe((await onEngine('node-1', g))!.globalId);
    expect(manager.log()).toContain(`Created the copy of global container ${g} on node-3`);
  }, 120_000);

  test('constraints (-e global:true form) and port conflicts choose the nodes', async () => {
    const gc = `${P}-gc`;
    // Host 2 runs btrfs: storagedriver!=btrfs leaves nodes 1 and 3.
    await ok(['run', '-d', '-e', 'global:true', '-e', 'constraint:storagedriver!=btrfs', '--name', gc, 'busybox', 'sleep', '1000']);
    expect(await holders(gc, 'running')).toEqual(['node-1', 'node-3']);
    // Port 8081 taken on node-1 by an ordinary container: the copies go to nodes 2 and 3.
    await ok(['run', '-d', '-e', 'constraint:node==node-1', '-p', '8081:80', '--name', `${P}-web`, 'busybox', 'sleep', '1000']);
    const gp = `${P}-gp`;
    await ok(['run', '-d', '-l', 'com.docker.swarm.global=true', '-p', '8081:80', '--name', gp, 'busybox', 'sleep', '1000']);
    expect(await holders(gp, 'running')).toEqual(['node-2', 'node-3']);
    // No node matches: the scheduler's explanation, nothing created.
    const none = await docker(host, ['run', '-d', '-e', 'global:true', '-e', 'constraint:storagedriver==zfs', '--name', `${P}-none`, 'busybox', 'true']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain('0/3 nodes are available: 3 nodes: constraint storagedriver==zfs not met');
    expect(await holders(`${P}-none`)).toEqual([]);
  }, 120_000);

  test('a drained node gets none; activated, it gets its copy', async () => {
    const gd = `${P}-gd`;
    const d = await swarm(['node', 'drain', 'node-3', '-H', host]);
    expect(d.code).toBe(0);
    await ok(['run', '-d', '-l', 'com.docker.swarm.global=true', '--name', gd, 'busybox', 'sleep', '1000']);
    expect(await holders(gd, 'running')).toEqual(['node-1', 'node-2']);
    expect((await swarm(['node', 'activate', 'node-3', '-H', host])).code).toBe(0);
    await waitHolders(gd, ['node-1', 'node-2', 'node-3']);
  }, 120_000);

  test('stop and start of the name act on every copy', async () => {
    await ok(['stop', '-t', '1', g]);
    expect(await holders(g, 'exited')).toEqual(['node-1', 'node-2', 'node-3']);
    await ok(['start', g]);
    expect(await holders(g, 'running')).toEqual(['node-1', 'node-2', 'node-3']);
    // One copy by <node>/<name>.
    await ok(['stop', '-t', '1', `node-2/${g}`]);
    expect(await holders(g, 'running')).toEqual(['node-1', 'node-3']);
    await ok(['start', `node-2/${g}`]);
    expect(await holders(g, 'running')).toEqual(['node-1', 'node-2', 'node-3']);
  }, 120_000);

  test('a node that comes back (engine killed, started again) gets its copies, started', async () => {
    await killEngine(2);
    await waitFor('node-2 Unhealthy', async () => ((await docker(host, ['info'], 15)).stdout.match(/node-2: [\s\S]*?└ Status: Unhealthy/) ? true : undefined), 30_000, 300);
    // Created while node-2 is down: copies on nodes 1 and 3.
    const gk = `${P}-gk`;
    await ok(['run', '-d', '-l', 'com.docker.swarm.global=true', '--name', gk, 'busybox', 'sleep', '1000']);
    const up = ['node-1', 'node-3'];
    expect((await holders(gk, 'running')).filter((n) => up.includes(n))).toEqual(up);
    // Removed while node-2 is down: its copy goes when node-2 is back.
    expect(await ok(['rm', '-f', `${P}-gd`])).toBe(`${P}-gd`);
    expect((await holders(`${P}-gd`)).filter((n) => up.includes(n))).toEqual([]);
    await startEngine(2);
    await waitFor('3 healthy nodes', async () => ((await healthyCount()) === 3 ? true : undefined), 60_000, 300);
    // Its new copy of gk, and its copy of g (stopped by the engine's restart) running again.
    await waitHolders(gk, ['node-1', 'node-2', 'node-3']);
    await waitHolders(g, ['node-1', 'node-2', 'node-3']);
    expect(manager.log()).toContain(`Started the copy of global container ${g} on node-2`);
    await waitFor('the removed container gone from node-2', async () => ((await holders(`${P}-gd`)).length === 0 ? true : undefined), 30_000, 500);
    expect(manager.log()).toContain(`Removed the copy of removed global container ${P}-gd on node-2`);
  }, 240_000);

  test('docker rm -f of the name removes every copy', async () => {
    const out = await ok(['rm', '-f', g]);
    expect(out).toBe(g);
    expect(await holders(g)).toEqual([]);
    // Gone from the manager's view too, and the name is free again (one ordinary container).
    expect(await ok(['ps', '-a', '--filter', `name=^${g}$`, '--format', '{{.Names}}'])).toBe('');
    await ok(['run', '-d', '--name', g, 'busybox', 'sleep', '1000']);
    expect(await holders(g)).toHaveLength(1);
    await ok(['rm', '-f', g]);
  }, 120_000);
});
