/**
 * The create seam (manager/scheduling.ts Placer.place): the name check, the choice of a node and its
 * reservation happen in one synchronous step, so concurrent creates through the real create path
 * never overbook a node or share a name; the reservation ends whatever the engine answered.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ApiError } from '../../../src/lib/errors';
import { setLogSink } from '../../../src/lib/log';
import { Cluster } from '../../../src/lib/manager/cluster';
import { createContainer } from '../../../src/lib/manager/create';
import { nameConflictMessage, pendingContainer, Placer } from '../../../src/lib/manager/scheduling';
import { parseCreateRequest } from '../../../src/lib/scheduler';
import { FakeEngine } from './fake-engine';

const GiB = 1024 ** 3;
const FILTERS = ['health', 'port'];

describe('reservations', () => {
  test('a pending container carries name, memory, cpus, ports, network mode, labels and the swarm ID', () => {
    const r = parseCreateRequest(
      {
        Image: 'nginx',
        Labels: { a: 'b', 'com.docker.swarm.id': 'S1' },
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { Memory: 5, CpuShares: 2, PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } },
      },
      'web',
    );
    expect(pendingContainer(r)).toEqual({
      id: 'S1',
      names: ['web'],
      image: 'nginx',
      state: 'pending',
      labels: { a: 'b', 'com.docker.swarm.id': 'S1' },
      cpus: 2,
      memory: 5,
      portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }],
      networkMode: '',
      exposedPorts: ['80/tcp'],
    });
  });

  test("v1's text for a name taken", () => {
    expect(nameConflictMessage('web')).toBe('Conflict: The name web is already assigned. You have to delete (or rename) that container to be able to assign web to a container again.');
  });
});

describe('32 concurrent creates of 1 GiB on four nodes of 4 GiB', () => {
  const engines = ['node-1', 'node-2', 'node-3', 'node-4'].map((n, i) => new FakeEngine(n, `ID${i}`, 2, 4 * GiB));
  let cluster: Cluster;
  let placer: Placer;

  beforeAll(async () => {
    setLogSink(() => undefined);
    const addrs = await Promise.all(engines.map((e) => e.start()));
    cluster = new Cluster({ engine: { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: FILTERS, overcommit: 0, createRetry: 0 });
    placer = new Placer(cluster, { strategy: 'spread', filters: FILTERS, overcommit: 0 });
    cluster.setEntries(addrs);
    const end = Date.now() + 5000;
    while (cluster.healthy().length < engines.length) {
      if (Date.now() > end) throw new Error('fake engines did not validate');
      await Bun.sleep(20);
    }
  });

  afterAll(async () => {
    cluster.stop();
    await Promise.all(engines.map((e) => e.stop().catch(() => undefined)));
  });

  /** Statuses of the creates, in call order (201 for a container created). */
  async function createAll(names: string[]): Promise<number[]> {
    // All started in the same tick: each runs to its first `await` (the engine call) before the next begins.
    const outcomes = await Promise.allSettled(names.map((name) => createContainer(placer, { Image: 'busybox', HostConfig: { Memory: GiB } }, name)));
    return outcomes.map((o) => {
      if (o.status === 'fulfilled') return 201;
      if (o.reason instanceof ApiError) return o.reason.status;
      throw o.reason;
    });
  }

  test('never more than 4 per node, names unique, every reservation released', async () => {
    // 24 names, 8 of them asked twice.
    const statuses = await createAll(Array.from({ length: 32 }, (_, i) => `web-${i % 24}`));
    const perNode = engines.map((e) => e.containers.length);
    expect(perNode).toEqual([4, 4, 4, 4]);
    const names = engines.flatMap((e) => e.containers.flatMap((c) => c.Names));
    expect(new Set(names).size).toBe(names.length);
    expect(statuses.filter((s) => s === 201)).toHaveLength(16);
    // The first 16 take every slot; the next 8 find no memory; the last 8 repeat names held by then.
    expect(statuses.slice(16, 24)).toEqual(Array(8).fill(500));
    expect(statuses.slice(24)).toEqual(Array(8).fill(409));
    for (const e of cluster.registered()) expect(placer.reserved(e.addr)).toEqual([]);
  });

  test('the cache holds what the engines created before the reservations go: a second wave finds every node full', async () => {
    const statuses = await createAll(Array.from({ length: 8 }, (_, i) => `late-${i}`));
    expect(statuses).toEqual(Array(8).fill(500));
    expect(engines.map((e) => e.containers.length)).toEqual([4, 4, 4, 4]);
  });
});
