/**
 * Rescheduling on node failure on real parts: 3 testbed engines, the compiled manager, the real
 * docker CLI. Containers with `-e reschedule:on-node-failure` (or the label form) on node-1; node-1's
 * dockerd is killed (host crash) → once it is Unhealthy they are created again elsewhere with the
 * same name and swarm ID, running if they were; the one without a policy is left alone. node-1
 * back → its stale copies are removed: never two containers with one name.
 *
 * Run: TESTBED_ID=2 bun test test/integration/reschedule.test.ts   (root; npm run build first)
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, linkDown, linkUp, run, startEngine, testbedDown, testbedUp, type TestbedHost } from '../helpers/testbed';

const P = `rs${Date.now().toString(36)}`;
const SWARM_ID = '{{index .Config.Labels "com.docker.swarm.id"}}';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let hosts: TestbedHost[] = [];
let work = '';

function docker(addr: string, args: string[], timeoutS = 60) {
  return run(['docker', '-H', addr.includes('://') ? addr : `tcp://${addr}`, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(args: string[], addr = host): Promise<string> {
  const r = await docker(addr, args);
  if (r.code !== 0) throw new Error(`docker -H ${addr} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

/** `docker ps -a` lines `<node>/<name> <state>` for one of our names (exact match). */
async function copies(name: string): Promise<string[]> {
  const out = await ok(['ps', '-a', '--format', '{{.Names}} {{.State}}']);
  return out
    .split('\n')
    .filter((l) => l.split(' ')[0]!.endsWith(`/${name}`));
}

interface Before {
  id: string;
  swarmId: string;
}
const before: Record<string, Before> = {};
const names = { r1: `${P}-r1`, r2: `${P}-r2`, s: `${P}-s`, n: `${P}-n` };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-resched-it-'));
  hosts = await testbedUp(3);
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start([
    'manage',
    '-H',
    host,
    '--engine-failure-retry',
    '1',
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    `nodes://${hosts.map((h) => h.addr).join(',')}`,
  ]);
  await waitFor('3 healthy nodes', async () => ((await docker(host, ['info'], 15)).stdout.match(/Status: Healthy/g)?.length === 3 ? true : undefined), 60_000, 300);
}, 600_000);

afterAll(async () => {
  await manager?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-reschedule-it.log'), manager.log());
  bin?.cleanup();
  await testbedDown().catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe('reschedule on node failure', () => {
  test('containers on node-1: two with the policy (env and label form), one created only, one without', async () => {
    const soft = ['-e', 'constraint:node==~node-1'];
    await ok(['run', '-d', '--name', names.r1, '-e', 'reschedule:on-node-failure', ...soft, 'busybox', 'sleep', '600']);
    await ok(['run', '-d', '--name', names.r2, '-l', 'com.docker.swarm.reschedule-policies=["on-node-failure"]', ...soft, 'busybox', 'sleep', '600']);
    await ok(['create', '--name', names.s, '-e', 'reschedule:on-node-failure', ...soft, 'busybox', 'sleep', '600']);
    await ok(['run', '-d', '--name', names.n, ...soft, 'busybox', 'sleep', '600']);
    for (const n of Object.values(names)) {
      const [node, id, swarmId] = (await ok(['inspect', '-f', `{{.Node.Name}} {{.Id}} ${SWARM_ID}`, n])).split(' ');
      expect(node).toBe('node-1');
      expect(swarmId).toMatch(/^[0-9a-f]{64}$/);
      before[n] = { id: id!, swarmId: swarmId! };
    }
    // The env form is stored as the label, as v1 does.
    expect(await ok(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.reschedule-policies"}}', names.r1])).toBe('["on-node-failure"]');
  }, 120_000);

  test('node-1 crashes: the policy containers come back elsewhere with name and swarm id; the other stays', async () => {
    await killEngine(1, { hard: true });
    await waitFor('node-1 Unhealthy', async () => ((await docker(host, ['info'], 15)).stdout.match(/node-1: [\s\S]*?└ Status: Unhealthy/) ? true : undefined), 30_000, 300);
    for (const n of [names.r1, names.r2]) {
      const state = await waitFor(`${n} running elsewhere`, async () => {
        const r = await docker(host, ['inspect', '-f', `{{.Node.Name}} {{.Id}} ${SWARM_ID} {{.State.Running}}`, n], 15);
        if (r.code !== 0) return undefined;
        const [node, id, swarmId, running] = r.stdout.trim().split(' ');
        return node !== 'node-1' && running === 'true' ? { node: node!, id: id!, swarmId: swarmId! } : undefined;
      }, 30_000, 300);
      expect(['node-2', 'node-3']).toContain(state.node);
      expect(state.swarmId).toBe(before[n]!.swarmId);
      expect(state.id).not.toBe(before[n]!.id);
      expect(manager.log()).toContain(`Rescheduled container ${before[n]!.id} from node-1 to ${state.node} as ${state.id}`);
      expect(manager.log()).toContain(`Container ${before[n]!.id} was running, starting container ${state.id}`);
      expect(await copies(n)).toEqual([`${state.node}/${n} running`]);
    }
    // Created but never started: moved, still not running.
    const s = await waitFor('created-only container moved', async () => {
      const r = await docker(host, ['inspect', '-f', `{{.Node.Name}} ${SWARM_ID} {{.State.Status}}`, names.s], 15);
      const [node, swarmId, status] = r.stdout.trim().split(' ');
      return r.code === 0 && node !== 'node-1' ? { node, swarmId, status } : undefined;
    }, 30_000, 300);
    expect(s.swarmId).toBe(before[names.s]!.swarmId);
    expect(s.status).toBe('created');
    expect(manager.log()).not.toContain(`Container ${before[names.s]!.id} was running`);
    // No policy: still on node-1 only (shown with -a), not recreated anywhere.
    expect(await copies(names.n)).toHaveLength(1);
    expect((await copies(names.n))[0]).toMatch(new RegExp(`^node-1/${names.n} `));
    expect(manager.log()).not.toContain(`Rescheduled container ${before[names.n]!.id}`);
    // docker ps (running, healthy nodes) lists exactly the two moved ones of ours.
    const ps = (await ok(['ps', '--format', '{{.Names}}'])).split('\n').filter((l) => l.includes(P));
    expect(ps.map((l) => l.split('/')[1]).sort()).toEqual([names.r1, names.r2].sort());
  }, 120_000);

  test('node-1 comes back: its stale copies are removed, one container per name remains', async () => {
    await startEngine(1);
    await waitFor('node-1 Healthy', async () => ((await docker(host, ['info'], 15)).stdout.match(/Status: Healthy/g)?.length === 3 ? true : undefined), 60_000, 300);
    const node1 = hosts.find((h) => h.name === 'node-1')!;
    await waitFor('stale copies gone from node-1', async () => {
      const out = (await docker(node1.addr, ['ps', '-a', '--format', '{{.Names}}'], 15)).stdout.split('\n');
      return !out.includes(names.r1) && !out.includes(names.r2) && !out.includes(names.s) ? true : undefined;
    }, 30_000, 500);
    for (const n of [names.r1, names.r2, names.s]) {
      const c = await copies(n);
      expect(c).toHaveLength(1);
      expect(c[0]).not.toMatch(/^node-1\//);
      expect(await ok(['inspect', '-f', SWARM_ID, n])).toBe(before[n]!.swarmId);
    }
    expect(await ok(['inspect', '-f', '{{.State.Running}}', names.r1])).toBe('true');
    // The container without a policy is still there, on node-1 (exited by the crash): nothing lost.
    const n = await copies(names.n);
    expect(n).toHaveLength(1);
    expect(n[0]).toMatch(new RegExp(`^node-1/${names.n} `));
    const direct = (await docker(node1.addr, ['ps', '-a', '--format', '{{.Names}}'], 15)).stdout.split('\n');
    expect(direct).toContain(names.n);
  }, 120_000);

  test('node-2 is cut off (link down, no reset): it turns Unhealthy, its container moves; link back, one copy', async () => {
    const name = `${P}-cut`;
    await ok(['run', '-d', '--name', name, '-e', 'reschedule:on-node-failure', '-e', 'constraint:node==~node-2', 'busybox', 'sleep', '600']);
    const [node, swarmId] = (await ok(['inspect', '-f', `{{.Node.Name}} ${SWARM_ID}`, name])).split(' ');
    expect(node).toBe('node-2');
    await linkDown(2);
    try {
      // Connects to a cut-off engine get no answer at all: the manager's connect timeout must notice.
      await waitFor('node-2 Unhealthy', async () => ((await docker(host, ['info'], 15)).stdout.match(/node-2: [\s\S]*?└ Status: Unhealthy/) ? true : undefined), 90_000, 500);
      const moved = await waitFor(`${name} running elsewhere`, async () => {
        const r = await docker(host, ['inspect', '-f', `{{.Node.Name}} ${SWARM_ID} {{.State.Running}}`, name], 15);
        const [n, sid, running] = r.stdout.trim().split(' ');
        return r.code === 0 && n !== 'node-2' && running === 'true' ? { node: n!, swarmId: sid! } : undefined;
      }, 60_000, 500);
      expect(moved.swarmId).toBe(swarmId!);
      expect(await ok(['ps', '--format', '{{.Names}}'])).toContain(`${moved.node}/${name}`);
    } finally {
      await linkUp(2);
    }
    await waitFor('node-2 Healthy again', async () => ((await docker(host, ['info'], 15)).stdout.match(/Status: Healthy/g)?.length === 3 ? true : undefined), 90_000, 500);
    const node2 = hosts.find((h) => h.name === 'node-2')!;
    await waitFor('stale copy gone from node-2', async () => {
      const out = (await docker(node2.addr, ['ps', '-a', '--format', '{{.Names}}'], 15)).stdout.split('\n');
      return out.includes(name) ? undefined : true;
    }, 60_000, 500);
    expect(await copies(name)).toHaveLength(1);
  }, 300_000);
});
