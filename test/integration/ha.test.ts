/**
 * Manager replication on real parts: a real etcd, 3 testbed engines registered by `swarm join`
 * processes, two `swarm manage --replication` managers (compiled binary), driven by the real docker
 * CLI. What a user sees: `docker info` on each manager (Role/Primary), containers run and listed
 * through the replica (attach/exec hijacks included), kill -9 of the primary → the replica takes
 * over within TTL + 2 s and nothing is lost; etcd restarted under the managers → a primary again.
 *
 * Run: TESTBED_ID=2 bun test test/integration/ha.test.ts   (root; npm run build first)
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, type KVServer } from '../helpers/kv-servers';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, run, startEngine, testbedDown, testbedUp, type TestbedHost } from '../helpers/testbed';

const TTL_S = 5;
const P = `ha${Date.now().toString(36)}`;

let bin: SwarmBinary;
let etcd: KVServer;
let hosts: TestbedHost[] = [];
let work = '';
let discovery = '';
const joins: RunningSwarm[] = [];

interface Manager {
  addr: string;
  proc: RunningSwarm;
}
const managers: Manager[] = [];
const allProcs: RunningSwarm[] = [];

function docker(addr: string, args: string[], opts: { input?: string; timeoutS?: number } = {}) {
  return run(['docker', '-H', `tcp://${addr}`, ...args], {
    stdin: opts.input,
    timeoutMs: (opts.timeoutS ?? 60) * 1000,
    env: { DOCKER_CONFIG: join(work, '.docker') },
  });
}

async function ok(addr: string, args: string[], opts: { input?: string; timeoutS?: number } = {}): Promise<string> {
  const r = await docker(addr, args, opts);
  if (r.code !== 0) throw new Error(`docker -H ${addr} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function info(addr: string): Promise<string> {
  const r = await docker(addr, ['info'], { timeoutS: 15 });
  return r.stdout;
}

function startManager(port: number): Manager {
  const addr = `127.0.0.1:${port}`;
  const proc = bin.start([
    'manage',
    '-H',
    `tcp://${addr}`,
    '--replication',
    '--replication-ttl',
    `${TTL_S}s`,
    '--advertise',
    addr,
    '--heartbeat',
    '1s',
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    '--engine-failure-retry',
    '1',
    discovery,
  ]);
  allProcs.push(proc);
  return { addr, proc };
}

/** Which manager is primary now (the other one must be a replica naming it). */
async function currentRoles(): Promise<{ primary: Manager; replica: Manager }> {
  const [m1, m2] = managers as [Manager, Manager];
  return waitFor('one primary and one replica naming it', async () => {
    const [a, b] = await Promise.all([info(m1.addr), info(m2.addr)]);
    const aPrim = a.includes('Role: primary');
    const bPrim = b.includes('Role: primary');
    if (aPrim && !bPrim && b.includes(`Primary: ${m1.addr}`)) return { primary: m1, replica: m2 };
    if (bPrim && !aPrim && a.includes(`Primary: ${m2.addr}`)) return { primary: m2, replica: m1 };
    return undefined;
  }, 40_000, 300);
}

const SWARM_ID = '{{index .Config.Labels "com.docker.swarm.id"}}';

/** `<node>/<name> <state>` lines of `docker ps -a` for exactly `name`. */
async function copies(addr: string, name: string): Promise<string[]> {
  const out = await ok(addr, ['ps', '-a', '--format', '{{.Names}} {{.State}}']);
  return out
    .trim()
    .split('\n')
    .filter((l) => l.split(' ')[0]!.endsWith(`/${name}`));
}

const healthyNodes = async (addr: string) => ((await info(addr)).match(/Status: Healthy/g)?.length === hosts.length ? true : undefined);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-ha-it-'));
  [hosts, etcd] = await Promise.all([testbedUp(3), startEtcd()]);
  bin = new SwarmBinary();
  discovery = `etcd://${etcd.addr}/${P}`;
  for (const h of hosts) {
    const j = bin.start(['join', '--advertise', h.addr, '--heartbeat', '1s', '--ttl', '3s', discovery]);
    joins.push(j);
    allProcs.push(j);
  }
  const m1 = startManager(await freePort());
  managers.push(m1);
  await waitFor('m1 primary', async () => ((await info(m1.addr)).includes('Role: primary') ? true : undefined), 30_000, 200);
  const m2 = startManager(await freePort());
  managers.push(m2);
  await waitFor('3 healthy nodes on m1', () => healthyNodes(m1.addr), 60_000, 300);
  await waitFor('3 healthy nodes on m2', () => healthyNodes(m2.addr), 60_000, 300);
}, 600_000);

afterAll(async () => {
  for (const p of allProcs) await p.stop('SIGKILL').catch(() => 0);
  const logs = managers.map((m, i) => `==== manager ${i + 1} ${m.addr}\n${m.proc.log()}`).join('\n');
  writeFileSync(join(tmpdir(), 'swarm-ha-it.log'), logs);
  bin?.cleanup();
  await etcd?.destroy().catch(() => undefined);
  await testbedDown().catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe('two managers with --replication on etcd', () => {
  test('docker info: the first is primary, the second a replica naming it; both see the 3 nodes', async () => {
    const [m1, m2] = managers as [Manager, Manager];
    const i1 = await info(m1.addr);
    const i2 = await info(m2.addr);
    expect(i1).toContain('Role: primary');
    expect(i1).not.toContain('Primary:');
    expect(i2).toContain('Role: replica');
    expect(i2).toContain(`Primary: ${m1.addr}`);
    for (const h of hosts) expect(i2).toContain(`${h.name}: ${h.addr}`);
    expect(m1.proc.log()).toContain('Leader Election: Cluster leadership acquired');
    expect(m2.proc.log()).toContain(`New leader elected: ${m1.addr}`);
    expect(m2.proc.log()).not.toContain('Cluster leadership acquired');
  });

  test('through the replica: run --rm (attach hijack), run -d, ps, exec -i byte-exact, logs', async () => {
    const [m1, m2] = managers as [Manager, Manager];
    expect((await ok(m2.addr, ['run', '--rm', 'busybox', 'echo', 'hi'])).trim()).toBe('hi');
    // stdin through two hijack hops, closed at the end (half-close): cat echoes it and exits.
    expect(await ok(m2.addr, ['run', '-i', '--rm', 'busybox', 'cat'], { input: 'line one\nline two\n' })).toBe('line one\nline two\n');
    for (const n of ['a', 'b', 'c']) await ok(m2.addr, ['run', '-d', '--name', `${P}-${n}`, 'busybox', 'sh', '-c', `echo started ${n}; sleep 600`]);
    const ps2 = await ok(m2.addr, ['ps', '--format', '{{.Names}}']);
    const ps1 = await ok(m1.addr, ['ps', '--format', '{{.Names}}']);
    for (const n of ['a', 'b', 'c']) {
      expect(ps2).toMatch(new RegExp(`node-\\d+/${P}-${n}\\b`));
      expect(ps1).toMatch(new RegExp(`node-\\d+/${P}-${n}\\b`));
    }
    const payload = Array.from({ length: 2000 }, (_, i) => `row ${i} ${'x'.repeat(i % 50)}`).join('\n') + '\n';
    expect(await ok(m2.addr, ['exec', '-i', `${P}-a`, 'cat'], { input: payload })).toBe(payload);
    expect((await ok(m2.addr, ['logs', `${P}-b`])).trim()).toBe('started b');
    expect((await ok(m2.addr, ['inspect', '-f', '{{.Name}} {{.State.Running}}', `${P}-c`])).trim()).toBe(`/${P}-c true`);
    // The events stream through the replica (a long-lived streamed response).
    const events = docker(m2.addr, ['events', '--filter', 'event=start', '--format', '{{.Actor.Attributes.name}}'], { timeoutS: 8 });
    await Bun.sleep(1500);
    await ok(m2.addr, ['run', '-d', '--name', `${P}-ev`, 'busybox', 'true']);
    expect((await events).stdout).toContain(`${P}-ev`);
  }, 180_000);

  test('kill -9 the primary: the replica takes over within TTL+2s and still shows every container', async () => {
    const [m1, m2] = managers as [Manager, Manager];
    const before = (await ok(m2.addr, ['ps', '-q'])).trim().split('\n').sort();
    expect(before.length).toBeGreaterThanOrEqual(3);
    await m1.proc.stop('SIGKILL');
    const t0 = Date.now();
    // A client that talks to the replica right now is held until the new primary serves it.
    const during = docker(m2.addr, ['ps', '-q'], { timeoutS: 30 });
    await waitFor('m2 primary', async () => ((await info(m2.addr)).includes('Role: primary') ? true : undefined), (TTL_S + 10) * 1000, 100);
    const took = Date.now() - t0;
    console.log(`failover took ${took} ms (TTL ${TTL_S}s)`);
    expect(took).toBeLessThan((TTL_S + 2) * 1000);
    expect(m2.proc.log()).toContain('Leader Election: Cluster leadership acquired');
    const held = await during;
    expect({ code: held.code, stderr: held.stderr }).toEqual({ code: 0, stderr: '' });
    expect(held.stdout.trim().split('\n').sort()).toEqual(before);
    const after = (await ok(m2.addr, ['ps', '-q'])).trim().split('\n').sort();
    expect(after).toEqual(before);
    expect((await ok(m2.addr, ['run', '--rm', 'busybox', 'echo', 'after failover'])).trim()).toBe('after failover');
  }, 60_000);

  test('the old primary comes back as a replica of the new one and serves through it', async () => {
    const [m1, m2] = managers as [Manager, Manager];
    const port = Number(m1.addr.split(':')[1]);
    const m1b = startManager(port);
    managers[0] = m1b;
    await waitFor('m1 replica naming m2', async () => ((await info(m1b.addr)).includes(`Primary: ${m2.addr}`) ? true : undefined), 30_000, 200);
    const i1 = await info(m1b.addr);
    expect(i1).toContain('Role: replica');
    const ps = await ok(m1b.addr, ['ps', '--format', '{{.Names}}']);
    for (const n of ['a', 'b', 'c']) expect(ps).toMatch(new RegExp(`/${P}-${n}\\b`));
    expect((await ok(m1b.addr, ['exec', `${P}-b`, 'echo', 'via replica'])).trim()).toBe('via replica');
  }, 60_000);

  test('etcd restarted under the managers: leadership recovers, both answer again', async () => {
    const [m1, m2] = managers as [Manager, Manager];
    // Down for longer than the TTL: the primary cannot renew and must give the lock up.
    await etcd.stop();
    await waitFor('no primary left', async () => {
      const [a, b] = await Promise.all([info(m1.addr), info(m2.addr)]);
      return !a.includes('Role: primary') && !b.includes('Role: primary') ? true : undefined;
    }, (TTL_S + 10) * 1000, 300);
    expect(m2.proc.log()).toContain('Leader Election: Cluster leadership lost');
    await etcd.start();
    const roles = await waitFor('one primary and one replica naming it', async () => {
      const [a, b] = await Promise.all([info(m1.addr), info(m2.addr)]);
      const aPrim = a.includes('Role: primary');
      const bPrim = b.includes('Role: primary');
      if (aPrim && !bPrim && b.includes(`Primary: ${m1.addr}`)) return { primary: m1, replica: m2 };
      if (bPrim && !aPrim && a.includes(`Primary: ${m2.addr}`)) return { primary: m2, replica: m1 };
      return undefined;
    }, 40_000, 300);
    const ps = await ok(roles.replica.addr, ['ps', '--format', '{{.Names}}']);
    for (const n of ['a', 'b', 'c']) expect(ps).toMatch(new RegExp(`/${P}-${n}\\b`));
    expect((await ok(roles.replica.addr, ['run', '--rm', 'busybox', 'echo', 'after etcd restart'])).trim()).toBe('after etcd restart');
    const names = (await ok(roles.primary.addr, ['ps', '-a', '--format', '{{.Names}}'])).split('\n').filter((l) => l.includes(P));
    // Nothing lost, nothing doubled: each container of ours exactly once.
    expect(names.map((l) => l.split('/')[1]).sort()).toEqual(['a', 'b', 'c', 'ev'].map((n) => `${P}-${n}`));
  }, 120_000);

  test('node crash under two managers: only the primary reschedules, one copy; node back → stale copy removed', async () => {
    const { primary, replica } = await currentRoles();
    const name = `${P}-crash`;
    await ok(replica.addr, ['run', '-d', '--name', name, '-e', 'reschedule:on-node-failure', '-e', 'constraint:node==~node-3', 'busybox', 'sleep', '600']);
    const [node, id, sid] = (await ok(replica.addr, ['inspect', '-f', `{{.Node.Name}} {{.Id}} ${SWARM_ID}`, name])).trim().split(' ');
    expect(node).toBe('node-3');
    await killEngine(3, { hard: true });
    const moved = await waitFor('rescheduled and running', async () => {
      const r = await docker(replica.addr, ['inspect', '-f', `{{.Node.Name}} {{.Id}} ${SWARM_ID} {{.State.Running}}`, name], { timeoutS: 15 });
      const [n, newId, newSid, running] = r.stdout.trim().split(' ');
      return r.code === 0 && n !== 'node-3' && running === 'true' ? { node: n!, id: newId!, sid: newSid! } : undefined;
    }, 40_000, 300);
    expect(moved.sid).toBe(sid!);
    expect(moved.id).not.toBe(id!);
    expect(primary.proc.log()).toContain(`Rescheduled container ${id} from node-3 to ${moved.node} as ${moved.id}`);
    expect(replica.proc.log()).not.toContain('Rescheduled container');
    // Give a (wrongly) rescheduling replica time to show itself: still exactly one copy.
    await Bun.sleep(3000);
    expect(await copies(replica.addr, name)).toEqual([`${moved.node}/${name} running`]);
    await startEngine(3);
    const node3 = hosts.find((h) => h.name === 'node-3')!;
    await waitFor('stale copy gone from node-3', async () => {
      const out = (await docker(node3.addr, ['ps', '-a', '--format', '{{.Names}}'], { timeoutS: 15 })).stdout.split('\n');
      return out.length > 0 && !out.includes(name) ? true : undefined;
    }, 60_000, 500);
    await waitFor('node-3 healthy again', () => healthyNodes(primary.addr), 60_000, 300);
    expect(await copies(primary.addr, name)).toEqual([`${moved.node}/${name} running`]);
  }, 180_000);

  test('a node leaving discovery (its join stopped): rescheduled; back in discovery → the copy left on it is removed', async () => {
    const { primary, replica } = await currentRoles();
    const name = `${P}-left`;
    await ok(replica.addr, ['run', '-d', '--name', name, '-l', 'com.docker.swarm.reschedule-policies=["on-node-failure"]', '-e', 'constraint:node==~node-2', 'busybox', 'sleep', '600']);
    const [node, id, sid] = (await ok(replica.addr, ['inspect', '-f', `{{.Node.Name}} {{.Id}} ${SWARM_ID}`, name])).trim().split(' ');
    expect(node).toBe('node-2');
    const idx = hosts.findIndex((h) => h.name === 'node-2');
    await joins[idx]!.stop('SIGKILL');
    const moved = await waitFor('rescheduled after the entry expired', async () => {
      const r = await docker(replica.addr, ['inspect', '-f', `{{.Node.Name}} {{.Id}} ${SWARM_ID} {{.State.Running}}`, name], { timeoutS: 15 });
      const [n, newId, newSid, running] = r.stdout.trim().split(' ');
      return r.code === 0 && n !== 'node-2' && running === 'true' ? { node: n!, id: newId!, sid: newSid! } : undefined;
    }, 40_000, 300);
    expect(moved.sid).toBe(sid!);
    expect(primary.proc.log()).toContain(`Rescheduled container ${id} from node-2 to ${moved.node} as ${moved.id}`);
    // Back in discovery: the manager finds the old copy still running there and removes it.
    const rejoin = bin.start(['join', '--advertise', hosts[idx]!.addr, '--heartbeat', '1s', '--ttl', '3s', discovery]);
    joins[idx] = rejoin;
    allProcs.push(rejoin);
    const node2 = hosts[idx]!;
    await waitFor('old copy removed from node-2', async () => {
      const r = await docker(node2.addr, ['ps', '-a', '--format', '{{.Names}}'], { timeoutS: 15 });
      return r.code === 0 && !r.stdout.split('\n').includes(name) ? true : undefined;
    }, 60_000, 500);
    await waitFor('3 healthy nodes', () => healthyNodes(primary.addr), 60_000, 300);
    expect(await copies(primary.addr, name)).toEqual([`${moved.node}/${name} running`]);
    // The containers started at the beginning are all still there (one may have exited in node-3's crash).
    const ps = await ok(replica.addr, ['ps', '-a', '--format', '{{.Names}}']);
    for (const n of ['a', 'b', 'c']) expect(ps).toMatch(new RegExp(`/${P}-${n}\\b`));
  }, 180_000);
});
