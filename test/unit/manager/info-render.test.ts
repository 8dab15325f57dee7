/**
 * `docker info` from kept renderings (info.ts infoParts + each node's nodeLines as JSON) is the same
 * answer as building it whole (buildInfo), and through the API the nodes' part is rendered again
 * only for a node that changed.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildInfo, infoParts, nodeLines, nodeOrder, type InfoInput, type NodeView } from '../../../src/lib/api/info';
import { createApiServer } from '../../../src/lib/api/server';
import { setLogSink } from '../../../src/lib/log';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { FakeEngine } from './fake-engine';

function node(i: number, over: Partial<NodeView> = {}): NodeView {
  return {
    name: `node-${i}`,
    addr: `10.0.0.${i}:2375`,
    id: `ID${i}|10.0.0.${i}:2375`,
    status: 'Healthy',
    healthy: true,
    containers: { total: i, running: i, paused: 0, stopped: 0 },
    images: 2,
    reservedCpus: 0.5,
    totalCpus: 4,
    reservedMemory: 1024 ** 3,
    totalMemory: 8 * 1024 ** 3,
    labels: { storagedriver: 'overlay2', zone: `z${i % 2}` },
    error: i === 3 ? 'connection refused' : '',
    updatedAt: new Date(1_700_000_000_000 + i),
    serverVersion: '26.1.5',
    registered: i !== 4,
    drained: i === 2,
    ...over,
  };
}

test('the parts joined are buildInfo, byte for byte apart from SystemTime', () => {
  const input: InfoInput = { nodes: [10, 2, 1, 3, 4].map((i) => node(i)), strategy: 'spread', filters: ['health', 'port'], serverVersion: 'swarm/1.2.9', eventsListeners: 3, role: { role: 'replica', primary: '10.0.0.9:4000' }, now: new Date(0) };
  const { before, head, after } = infoParts(input);
  const sorted = [...input.nodes].sort(nodeOrder);
  const text = `${before}[${head}${sorted.map((n) => `,${JSON.stringify(nodeLines(n)).slice(1, -1)}`).join('')}]${after}`;
  expect(text).toBe(JSON.stringify(buildInfo(input)));
});

const fakes = [new FakeEngine('node-1', 'AAAA'), new FakeEngine('node-2', 'BBBB')];
let cluster: Cluster;
let server: http.Server;
let base = '';

beforeAll(async () => {
  setLogSink(() => undefined);
  const addrs = await Promise.all(fakes.map((f) => f.start()));
  cluster = new Cluster({ engine: { refreshMinMs: 3_600_000, refreshMaxMs: 3_600_000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: ['health'], overcommit: 0, createRetry: 0 });
  cluster.setEntries(addrs);
  server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters: ['health'], overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters: ['health'] });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  while (cluster.healthy().length < 2) await Bun.sleep(20);
});

afterAll(async () => {
  cluster.stop();
  server.closeAllConnections();
  server.close();
  await Promise.all(fakes.map((f) => f.stop()));
});

test('GET /info follows a node that changes, and only its lines change', async () => {
  const info = async () => (await (await fetch(`${base}/info`)).json()) as { Containers: number; SystemStatus: [string, string][] };
  const first = await info();
  expect(first.Containers).toBe(0);
  const r = await fetch(`${base}/containers/create?name=one`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Image: 'busybox' }) });
  expect(r.status).toBe(201);
  const second = await info();
  expect(second.Containers).toBe(1);
  const changed = second.SystemStatus.filter((line, i) => JSON.stringify(line) !== JSON.stringify(first.SystemStatus[i]));
  expect(changed.map(([k]) => k)).toEqual(['  └ Containers']);
  expect(changed[0]![1]).toBe('1 (0 Running, 0 Paused, 1 Stopped)');
  expect(await info()).toEqual({ ...second, SystemTime: expect.any(String) } as never);
});
