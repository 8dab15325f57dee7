/**
 * Event history with no gaps, on a mixed test bed (host 1 dockerd 20.10, host 2 dockerd 26 refusing
 * API < 1.44): containers change on an engine while the manager's stream to it is down (its dockerd
 * killed and started again, which stops its containers; its link cut while containers are run,
 * stopped and removed on it directly), and `docker events --since <t0> --until <now>` through the
 * manager shows each change exactly once, with its node.
 *
 * Run: TESTBED_ID=3 bun test test/integration/events-history.test.ts   (root; npm run build first)
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, linkDown, linkUp, run, startEngine, testbedDown, testbedUp, TESTBED_ID, type TestbedHost } from '../helpers/testbed';

const P = `ev${Date.now().toString(36)}`;
const FORMAT = '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes "node.name"}}';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let hosts: TestbedHost[] = [];
let work = '';
let t0 = '';

function docker(addr: string, args: string[], timeoutS = 60) {
  return run(['docker', '-H', addr.includes('://') ? addr : `tcp://${addr}`, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(args: string[], addr = host): Promise<string> {
  const r = await docker(addr, args);
  if (r.code !== 0) throw new Error(`docker -H ${addr} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** Host i's dockerd over its unix socket: reachable from here while its link is down. */
const socketOf = (i: number) => `unix:///run/swarmtb${TESTBED_ID}/node-${i}/docker.sock`;

/** Now, as the docker CLI's --since/--until take it. */
const stamp = () => (Date.now() / 1000).toFixed(3);

async function nodeStatus(name: string): Promise<string | undefined> {
  const out = (await docker(host, ['info'], 15)).stdout;
  return new RegExp(`${name}: [^\\n]*\\n(?:[^\\n]*\\n)*?\\s*└ Status: (\\w+)`).exec(out)?.[1];
}

const waitStatus = (name: string, status: string, ms = 60_000) => waitFor(`${name} ${status}`, async () => ((await nodeStatus(name)) === status ? true : undefined), ms, 300);

/** `docker events --since t0 --until now` through the manager: lines `type action name node`. */
async function history(extra: string[] = []): Promise<string[]> {
  const out = await ok(['events', '--since', t0, '--until', stamp(), '--format', FORMAT, ...extra]);
  return out.split('\n').filter(Boolean);
}

/** How often each `action name node` of our containers appears. */
function counts(lines: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) {
    const [type, action, name, node] = l.split(' ');
    if (type !== 'container' || !name?.startsWith(P)) continue;
    if (!['create', 'start', 'die', 'destroy'].includes(action!)) continue;
    const key = `${action} ${name} ${node}`;
    m.set(key, (m.get(key) ?? 0) + 1);
  }
  return m;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-events-it-'));
  hosts = await testbedUp(2, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start([
    'manage',
    '-H',
    host,
    '--engine-failure-retry',
    '2',
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    `nodes://${hosts.map((h) => h.addr).join(',')}`,
  ]);
  await waitFor('2 healthy nodes', async () => ((await docker(host, ['info'], 15)).stdout.match(/Status: Healthy/g)?.length === 2 ? true : undefined), 60_000, 300);
  t0 = stamp();
}, 600_000);

afterAll(async () => {
  await manager?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-events-history-it.log'), manager.log());
  bin?.cleanup();
  await testbedDown().catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

const names = {
  restarted: `${P}-restarted`, // node-1, stopped by its dockerd's restart
  linked: `${P}-linked`, // node-2, stopped and removed directly while the link is down
  during: `${P}-during`, // node-2, run --rm directly while the link is down
  after: `${P}-after`, // node-2, run directly while the link is down, removed through the manager after
};

describe('docker events --since/--until over engine outages', () => {
  test('containers on both nodes through the manager', async () => {
    await ok(['run', '-d', '--name', names.restarted, '-e', 'constraint:node==node-1', 'busybox', 'sleep', '600']);
    await ok(['run', '-d', '--name', names.linked, '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600']);
  }, 60_000);

  test('node-1 dockerd killed and started again: it stops its container while the manager has no stream', async () => {
    await killEngine(1);
    await waitStatus('node-1', 'Unhealthy', 30_000);
    await startEngine(1);
    await waitStatus('node-1', 'Healthy');
    await waitFor('restarted container exited', async () => ((await ok(['inspect', '-f', '{{.State.Status}}', names.restarted])) === 'exited' ? true : undefined), 30_000, 300);
    await ok(['rm', names.restarted]);
  }, 240_000);

  test('node-2 cut off: containers change on it directly, then it comes back', async () => {
    await linkDown(2);
    try {
      const sock = socketOf(2);
      await ok(['stop', '-t', '0', names.linked], sock);
      await ok(['rm', names.linked], sock);
      await ok(['run', '--rm', '--name', names.during, 'busybox', 'true'], sock);
      await ok(['run', '-d', '--name', names.after, 'busybox', 'sleep', '600'], sock);
      // Unhealthy: the stream that was open through the cut is reopened when node-2 answers again.
      await waitStatus('node-2', 'Unhealthy', 60_000);
    } finally {
      await linkUp(2);
    }
    await waitStatus('node-2', 'Healthy');
    await waitFor('the container run during the cut is known', async () => ((await docker(host, ['inspect', '-f', '{{.Node.Name}}', names.after], 15)).stdout.trim() === 'node-2' ? true : undefined), 30_000, 300);
    await ok(['rm', '-f', names.after]);
  }, 240_000);

  test('--since t0 --until now shows every create, start, die and destroy exactly once, with its node', async () => {
    // The destroy of the last removal reaches the manager through the engine's stream.
    await waitFor('last destroy in the history', async () => (counts(await history()).get(`destroy ${names.after} node-2`) ? true : undefined), 30_000, 500);
    const lines = await history();
    const got = counts(lines);
    const expected = new Map<string, number>();
    for (const [name, node] of [
      [names.restarted, 'node-1'],
      [names.linked, 'node-2'],
      [names.during, 'node-2'],
      [names.after, 'node-2'],
    ] as const) {
      for (const action of ['create', 'start', 'die', 'destroy']) expected.set(`${action} ${name} ${node}`, 1);
    }
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
    // The manager's own events are in the history too.
    const swarm = lines.filter((l) => l.startsWith('swarm '));
    expect(swarm.some((l) => /^swarm engine_disconnect .* node-1$/.test(l))).toBe(true);
    expect(swarm.some((l) => /^swarm engine_reconnect .* node-1$/.test(l))).toBe(true);
    expect(swarm.some((l) => /^swarm engine_disconnect .* node-2$/.test(l))).toBe(true);
    expect(swarm.some((l) => /^swarm engine_reconnect .* node-2$/.test(l))).toBe(true);
  }, 60_000);

  test('filters apply to the history; relative --since works', async () => {
    const dies = await ok(['events', '--since', '30m', '--until', stamp(), '--filter', 'event=die', '--filter', 'node=node-2', '--format', FORMAT]);
    const ours = dies.split('\n').filter((l) => l.includes(P));
    expect(ours.sort()).toEqual([`container die ${names.after} node-2`, `container die ${names.during} node-2`, `container die ${names.linked} node-2`]);
  }, 30_000);

  test('without --until, the history is followed by the live stream', async () => {
    const follow = docker(host, ['events', '--since', t0, '--filter', `container=${P}-live`, '--filter', 'event=start', '--format', FORMAT], 12);
    await Bun.sleep(1500);
    await ok(['run', '--rm', '--name', `${P}-live`, 'busybox', 'true']);
    const out = (await follow).stdout.split('\n').filter(Boolean);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(new RegExp(`^container start ${P}-live node-[12]$`));
  }, 30_000);
});
