/** Per-engine API versions: engines of different API ranges in one cluster, each spoken to in its own. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../../../src/lib/api/server';
import { setLogSink } from '../../../src/lib/log';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { FakeEngine } from './fake-engine';

function engine(name: string, id: string, api: string, min?: string): FakeEngine {
  const e = new FakeEngine(name, id);
  e.apiVersion = api;
  e.minApiVersion = min;
  return e;
}

// 20.10 (1.41), 26 (1.45), a 29-like engine (1.52, refuses below 1.44), and one the manager cannot speak to.
const old = engine('old', 'O1', '1.41', '1.12');
const today = engine('today', 'T1', '1.45', '1.24');
const strict = engine('strict', 'S1', '1.52', '1.44');
const future = engine('future', 'F1', '1.60', '1.50');
let cluster: Cluster;
let server: http.Server;
let base = '';
let addrs: string[] = [];

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await Bun.sleep(20);
  }
}

beforeAll(async () => {
  setLogSink(() => undefined);
  addrs = await Promise.all([old, today, strict, future].map((e) => e.start()));
  strict.containers.push({ Id: 's'.repeat(64), Names: ['/on-strict'], Image: 'busybox', State: 'running', Labels: {}, Created: 100 });
  const filters = ['health', 'port', 'constraint'];
  cluster = new Cluster({ engine: { refreshMinMs: 200, refreshMaxMs: 300, failureRetry: 2, overcommit: 0 }, strategy: 'spread', filters, overcommit: 0, createRetry: 0 });
  cluster.setEntries(addrs);
  server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters, overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await until(() => cluster.healthy().length === 3 && cluster.all().some((e) => e.health.lastError !== ''));
});

afterAll(async () => {
  cluster.stop();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  await Promise.all([old, today, strict, future].map((e) => e.stop()));
});

describe('a cluster of engines with different API ranges', () => {
  test('engines the manager can speak to are Healthy; the others Pending with the versions that would work', async () => {
    const info = (await (await fetch(`${base}/info`)).json()) as { SystemStatus: [string, string][] };
    const lines = info.SystemStatus.map(([k, v]) => `${k.trim()}: ${v}`);
    expect(lines.filter((l) => l === '└ Status: Healthy')).toHaveLength(3);
    expect(lines.filter((l) => l === '└ Status: Pending')).toHaveLength(1);
    expect(lines).toContain(
      '└ Error: engine requires API 1.50 or later (it speaks 1.50 to 1.60) but this manager speaks API 1.24 to 1.45; use an engine that still accepts API 1.45 or older',
    );
  });

  test('each engine is spoken to at its own version, never below its minimum', () => {
    const versionsSeen = (e: FakeEngine) => new Set(e.rawPaths.map((p) => /^\/v(\d+\.\d+)\//.exec(p)?.[1]).filter(Boolean));
    expect([...versionsSeen(old)]).toEqual(['1.41']);
    expect([...versionsSeen(today)]).toEqual(['1.45']);
    expect([...versionsSeen(strict)]).toEqual(['1.45']);
  });

  test('clients are told the oldest version of the registered engines; dockerd ping headers included', async () => {
    const ping = await fetch(`${base}/_ping`, { method: 'HEAD' });
    expect(ping.headers.get('api-version')).toBe('1.41');
    const v = (await (await fetch(`${base}/version`)).json()) as { ApiVersion: string; MinAPIVersion: string };
    expect(v).toMatchObject({ ApiVersion: '1.41', MinAPIVersion: '1.24' });
  });

  test('a 1.41 request for a container on the 1.44-minimum engine reaches it at 1.45', async () => {
    const before = strict.rawPaths.length;
    const r = await fetch(`${base}/v1.41/containers/on-strict/json`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { Id: string }).Id).toBe('s'.repeat(64));
    expect(strict.rawPaths.slice(before)).toContain(`/v1.45/containers/${'s'.repeat(64)}/json`);
  });

  test('without the 1.41 engine the cluster advertises 1.45', async () => {
    cluster.setEntries(addrs.filter((a) => a !== addrs[0]));
    const ping = await fetch(`${base}/_ping`);
    expect(ping.headers.get('api-version')).toBe('1.45');
    cluster.setEntries(addrs);
  });
});
