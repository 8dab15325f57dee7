import { describe, expect, test } from 'bun:test';
import {
  addPendingContainer,
  checkNameAvailable,
  nameConflictMessage,
  pendingContainer,
  placeContainer,
  Reservations,
  SWARM_ID_LABEL,
  usedMemory,
  withLabel,
} from '../../../src/lib/scheduler';
import type { ContainerRequest, NodeSnapshot, PlaceOptions } from '../../../src/lib/scheduler';
import { container, GiB, node, req } from './fixtures';

const MiB = 1024 * 1024;

describe('pending snapshots', () => {
  test('a pending container carries name, memory, cpus, ports, network mode, labels', () => {
    const r = req(
      {
        Image: 'nginx',
        Labels: { a: 'b' },
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { Memory: 5, CpuShares: 2, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } },
      },
      'web',
    );
    expect(pendingContainer(r, 'p1')).toEqual({
      id: 'p1',
      names: ['web'],
      image: 'nginx',
      state: 'pending',
      labels: { a: 'b' },
      cpus: 2,
      memory: 5,
      portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }],
      networkMode: '',
      exposedPorts: ['80/tcp'],
    });
    expect(pendingContainer(req({}), 'p2').names).toEqual([]);
  });

  test('addPendingContainer returns a new node', () => {
    const n = node('a');
    const n2 = addPendingContainer(n, pendingContainer(req({}), 'p'));
    expect(n.containers).toHaveLength(0);
    expect(n2.containers.map((c) => c.state)).toEqual(['pending']);
  });
});

describe('name conflicts', () => {
  const text = 'Conflict: The name web is already assigned. You have to delete (or rename) that container to be able to assign web to a container again.';

  test('v1 text', () => {
    expect(nameConflictMessage('web')).toBe(text);
  });

  test('across every node, any state, with or without a leading slash', () => {
    const nodes = [node('a'), node('b', { containers: [container('1', { names: ['web'], state: 'exited' })] })];
    expect(checkNameAvailable(nodes, 'web')).toBe(text);
    expect(checkNameAvailable(nodes, '/web')).toBe(text);
    expect(checkNameAvailable(nodes, 'web2')).toBeNull();
    expect(checkNameAvailable(nodes, '')).toBeNull();
  });

  test('pending names count, through the nodes or as extra names', () => {
    const res = new Reservations();
    res.reserve(node('a').id, req({}, 'web'));
    expect(checkNameAvailable(res.apply([node('a')]), 'web')).toBe(text);
    // the reservation's node left the snapshot (e.g. went unhealthy): still taken
    expect(checkNameAvailable([node('b')], 'web', res.names())).toBe(text);
  });
});

describe('Reservations', () => {
  test('reserve / apply / release', () => {
    const res = new Reservations();
    const id = res.reserve(node('a').id, req({ HostConfig: { Memory: 100 } }, 'x'));
    expect(id).toBe('pending-1');
    expect(res.size).toBe(1);
    const [a, b] = res.apply([node('a'), node('b')]);
    expect(a!.containers.map((c) => c.id)).toEqual(['pending-1']);
    expect(usedMemory(a!)).toBe(100);
    expect(b!.containers).toHaveLength(0);
    expect(res.release(id)).toBe(true);
    expect(res.release(id)).toBe(false);
    expect(res.apply([node('a')])[0]!.containers).toHaveLength(0);
  });

  test('the reservation ID is the swarm ID when the request has one', () => {
    const res = new Reservations();
    expect(res.reserve('n', withLabel(req({}), SWARM_ID_LABEL, 'swarm-42'))).toBe('swarm-42');
    expect(res.reserve('n', req({}), 'explicit')).toBe('explicit');
    expect(res.list().map((r) => r.id)).toEqual(['swarm-42', 'explicit']);
  });

  test('not counted twice once the engine cache lists the container', () => {
    const res = new Reservations();
    const r = withLabel(req({ HostConfig: { Memory: 100 } }), SWARM_ID_LABEL, 'swarm-1');
    res.reserve(node('a').id, r);
    const created = container('engine-id-1', { memory: 100, labels: { [SWARM_ID_LABEL]: 'swarm-1' } });
    const [a] = res.apply([node('a', { containers: [created] })]);
    expect(a!.containers).toHaveLength(1);
    expect(usedMemory(a!)).toBe(100);
  });
});

/** What the manager does under its scheduling lock: name check, place, reserve. */
function schedule(
  res: Reservations,
  snapshots: NodeSnapshot[],
  request: ContainerRequest,
  options: PlaceOptions = {},
): { ok: true; node: string; id: string } | { ok: false; message: string } {
  const nodes = res.apply(snapshots);
  const conflict = checkNameAvailable(nodes, request.name, res.names());
  if (conflict) return { ok: false, message: conflict };
  const p = placeContainer(nodes, request, options);
  if (!p.ok) return { ok: false, message: p.error.message };
  return { ok: true, node: p.node.id, id: res.reserve(p.node.id, request) };
}

function reservedMemory(res: Reservations, nodeId: string): number {
  return res.list().filter((r) => r.nodeId === nodeId).reduce((s, r) => s + r.container.memory, 0);
}

describe('concurrency: 20 creates before any engine create returns', () => {
  const cluster = () => [node('a', { totalMemory: GiB }), node('b', { totalMemory: GiB }), node('c', { totalMemory: GiB })];
  const opts: PlaceOptions = { overcommit: 0 };

  test('memory is never overbooked', () => {
    const snapshots = cluster();
    const res = new Reservations();
    const results = Array.from({ length: 20 }, () => schedule(res, snapshots, req({ HostConfig: { Memory: 256 * MiB } }), opts));
    expect(results.filter((r) => r.ok)).toHaveLength(12);
    for (const n of snapshots) expect(reservedMemory(res, n.id)).toBe(GiB);
    for (const r of results.slice(12)) {
      expect(r.ok).toBe(false);
      expect(!r.ok && r.message.startsWith('no resources available to schedule container\n0/3 nodes are available: 3 nodes: insufficient memory (reserved)')).toBe(true);
    }
  });

  test('control: without reservations the same loop overbooks (so the test above can fail)', () => {
    const snapshots = cluster();
    const chosen = Array.from({ length: 20 }, () => {
      const p = placeContainer(snapshots, req({ HostConfig: { Memory: 256 * MiB } }), opts);
      return p.ok ? p.node.id : null;
    });
    expect(chosen.every((id) => id === snapshots[0]!.id)).toBe(true);
  });

  test('binpack with reservations fills a node exactly, then the next', () => {
    const snapshots = cluster();
    const res = new Reservations();
    const order: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = schedule(res, snapshots, req({ HostConfig: { Memory: 256 * MiB } }), { ...opts, strategy: 'binpack' });
      if (r.ok) order.push(r.node);
    }
    expect(order).toHaveLength(12);
    expect(new Set(order.slice(0, 4)).size).toBe(1);
    expect(new Set(order.slice(4, 8)).size).toBe(1);
    expect(order[4]).not.toBe(order[0]);
    for (const n of snapshots) expect(reservedMemory(res, n.id)).toBeLessThanOrEqual(GiB);
  });

  test('a host port is never booked twice on a node', () => {
    const snapshots = [node('a'), node('b'), node('c'), node('d'), node('e')];
    const res = new Reservations();
    const body = { HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '80' }] } } };
    const results = Array.from({ length: 20 }, () => schedule(res, snapshots, req(body), { strategy: 'binpack' }));
    const placed = results.filter((r) => r.ok).map((r) => (r.ok ? r.node : ''));
    expect(placed).toHaveLength(5);
    expect(new Set(placed).size).toBe(5);
    const last = results[19]!;
    expect(!last.ok && last.message).toBe(
      'Unable to find a node that satisfies the following conditions \n[port 80 (Bridge mode)]\n' +
        '0/5 nodes are available: 5 nodes: port 80 in use (a, b, c and 2 more)',
    );
  });

  test('host-mode ports too', () => {
    const snapshots = [node('a'), node('b')];
    const res = new Reservations();
    const body = { ExposedPorts: { '53/udp': {} }, HostConfig: { NetworkMode: 'host' } };
    const placed = Array.from({ length: 20 }, () => schedule(res, snapshots, req(body))).filter((r) => r.ok);
    expect(placed.map((r) => (r.ok ? r.node : ''))).toEqual([snapshots[0]!.id, snapshots[1]!.id]);
  });

  test('the same name twice: the second gets the v1 conflict', () => {
    const res = new Reservations();
    const results = Array.from({ length: 20 }, () => schedule(res, cluster(), req({}, 'web')));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results[1]).toEqual({ ok: false, message: nameConflictMessage('web') });
  });

  test('async interleaving: creates complete in random order, invariants hold at every step', async () => {
    let snapshots = cluster();
    const res = new Reservations();
    let lock: Promise<void> = Promise.resolve();
    const withLock = async <T>(fn: () => T): Promise<T> => {
      const prev = lock;
      let unlock!: () => void;
      lock = new Promise((r) => (unlock = r));
      await prev;
      try {
        return fn();
      } finally {
        unlock();
      }
    };
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const check = () => {
      for (const n of res.apply(snapshots)) {
        expect(usedMemory(n)).toBeLessThanOrEqual(GiB);
        const ports = n.containers.flatMap((c) => c.portBindings.map((b) => b.hostPort)).filter((p) => p !== '');
        expect(new Set(ports).size).toBe(ports.length);
      }
    };
    const create = async (i: number) => {
      const port = String(8000 + (i % 4));
      const request = withLabel(
        req({ HostConfig: { Memory: 200 * MiB, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: port }] } } }, `c${i}`),
        SWARM_ID_LABEL,
        `swarm-${i}`,
      );
      await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * 5)));
      const r = await withLock(() => schedule(res, snapshots, request, { overcommit: 0 }));
      check();
      if (!r.ok) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(rand() * 5)));
      // the engine create returned: the cache learns the container, then the reservation goes
      await withLock(() => {
        snapshots = snapshots.map((n) =>
          n.id === r.node
            ? { ...n, containers: [...n.containers, container(`e${i}`, { names: [`c${i}`], memory: 200 * MiB, labels: { [SWARM_ID_LABEL]: `swarm-${i}` }, portBindings: request.portBindings })] }
            : n,
        );
        check();
        res.release(r.id);
        check();
      });
      return true;
    };
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => create(i)));
    // 4 distinct host ports × 3 nodes = 12 slots; memory allows 5 × 200 MiB per node = 15
    expect(outcomes.filter(Boolean)).toHaveLength(12);
    expect(res.size).toBe(0);
    check();
  });
});
