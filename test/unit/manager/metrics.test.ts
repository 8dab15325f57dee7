/** GET /metrics over fake engines: the exposition format, cluster gauges, and counters that move. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../../../src/lib/api/server';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { setLogSink } from '../../../src/lib/log';
import { routeClass, routeLabel } from '../../../src/lib/metrics/http';
import { FakeEngine } from './fake-engine';

const filters = ['health', 'port', 'constraint'];
const engines = [new FakeEngine('node-1', 'AAAA'), new FakeEngine('node-2', 'BBBB')];
let cluster: Cluster;
let server: http.Server;
let plain: http.Server;
let base = '';
let plainBase = '';

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await Bun.sleep(20);
  }
}

/** Scrapes /metrics: sample lines as a map `name{labels}` → value. */
async function scrape(): Promise<Map<string, number>> {
  const r = await fetch(`${base}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const out = new Map<string, number>();
  for (const line of (await r.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const value = (m: Map<string, number>, key: string) => m.get(key) ?? 0;

beforeAll(async () => {
  setLogSink(() => undefined);
  const addrs = await Promise.all(engines.map((e) => e.start()));
  engines[0]!.containers.push({ Id: 'a'.repeat(64), Names: ['/web'], Image: 'busybox', State: 'running', Labels: {}, Created: 100, Memory: 1024 ** 3 });
  engines[1]!.containers.push({ Id: 'b'.repeat(64), Names: ['/old'], Image: 'busybox', State: 'exited', Labels: {}, Created: 100 });
  cluster = new Cluster({ engine: { refreshMinMs: 200, refreshMaxMs: 300, failureRetry: 2, overcommit: 0 }, strategy: 'spread', filters, overcommit: 0, createRetry: 0 });
  cluster.setEntries(addrs);
  const api = { cluster, placer: new Placer(cluster, { strategy: 'spread', filters, overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters };
  server = createApiServer(api, undefined, { metrics: true });
  plain = createApiServer(api);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  plainBase = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
  await until(() => cluster.healthy().length === 2);
});

afterAll(async () => {
  cluster.stop();
  for (const s of [server, plain]) {
    s.closeAllConnections();
    s.close();
  }
  await Promise.all(engines.map((e) => e.stop().catch(() => undefined)));
});

describe('/metrics', () => {
  test('engines by state, containers by node and state, CPUs and memory per node, role', async () => {
    const m = await scrape();
    expect(value(m, 'swarm_engines{state="healthy"}')).toBe(2);
    expect(value(m, 'swarm_engines{state="unhealthy"}')).toBe(0);
    expect(m.has('swarm_engines{state="pending"}')).toBe(true);
    expect(value(m, 'swarm_containers{node="node-1",state="running"}')).toBe(1);
    expect(value(m, 'swarm_containers{node="node-2",state="exited"}')).toBe(1);
    expect(value(m, 'swarm_containers{node="node-2",state="running"}')).toBe(0);
    expect(value(m, 'swarm_node_cpus{node="node-1"}')).toBe(2);
    expect(value(m, 'swarm_node_memory_bytes{node="node-1"}')).toBe(2 * 1024 ** 3);
    expect(value(m, 'swarm_node_reserved_memory_bytes{node="node-1"}')).toBe(1024 ** 3);
    expect(value(m, 'swarm_node_reserved_memory_bytes{node="node-2"}')).toBe(0);
    expect(value(m, 'swarm_manager_role{role="primary"}')).toBe(1);
    expect(value(m, 'swarm_manager_role{role="replica"}')).toBe(0);
    expect(value(m, 'swarm_event_history_events')).toBeGreaterThanOrEqual(2); // the engine_connects
    expect(m.has('process_resident_memory_bytes')).toBe(true);
  });

  test('a create and a failed placement move the scheduling counters and the request counters', async () => {
    const before = await scrape();
    const ok = await fetch(`${base}/containers/create?name=m1`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Image: 'busybox', HostConfig: { Memory: 256 * 1024 ** 2 } }) });
    expect(ok.status).toBe(201);
    const bad = await fetch(`${base}/containers/create?name=m2`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Image: 'busybox', Env: ['constraint:node==nowhere'] }) });
    expect(bad.status).toBe(500);
    const after = await scrape();
    const delta = (k: string) => value(after, k) - value(before, k);
    expect(delta('swarm_scheduling_attempts_total{result="placed"}')).toBe(1);
    expect(delta('swarm_scheduling_attempts_total{result="failed"}')).toBe(1);
    expect(delta('swarm_scheduling_failures_total{reason="constraint"}')).toBe(1);
    expect(delta('swarm_scheduling_duration_seconds_count')).toBe(2);
    expect(delta('swarm_api_requests_total{class="containers",route="/containers/create",method="POST",status="201"}')).toBe(1);
    expect(delta('swarm_api_requests_total{class="containers",route="/containers/create",method="POST",status="500"}')).toBe(1);
    expect(delta('swarm_api_request_duration_seconds_count{class="containers",route="/containers/create",method="POST"}')).toBe(2);
    // The new container's memory is reserved on its node.
    const reserved = ['node-1', 'node-2'].map((n) => delta(`swarm_node_reserved_memory_bytes{node="${n}"}`));
    expect(reserved.sort()).toEqual([0, 256 * 1024 ** 2]);
  });

  test('an unknown route counts as unknown; HEAD answers headers only; without metrics the route is 404', async () => {
    const before = await scrape();
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const after = await scrape();
    expect(value(after, 'swarm_api_requests_total{class="unknown",route="unknown",method="GET",status="404"}') - value(before, 'swarm_api_requests_total{class="unknown",route="unknown",method="GET",status="404"}')).toBe(1);
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${plainBase}/metrics`)).status).toBe(404);
    // /v1.41/metrics is not the metrics route.
    expect((await fetch(`${base}/v1.41/metrics`)).status).toBe(404);
  });

  test('route classes', () => {
    expect(routeClass('/containers/{name}/logs')).toBe('containers');
    expect(routeClass('/_ping')).toBe('system');
    expect(routeClass('/events')).toBe('system');
    expect(routeClass('/_swarm/nodes')).toBe('nodes');
    expect(routeClass(undefined)).toBe('unknown');
    expect(routeLabel('/containers/{name*}/start')).toBe('/containers/:name/start');
    expect(routeLabel('/exec/{id}/json')).toBe('/exec/:id/json');
  });
});
