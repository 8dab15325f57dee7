/** Engine + Cluster + API against fake engines: validation, caches, events, scheduling, errors. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { createApiServer } from '../../../src/lib/api/server';
import { Cluster, type ClusterEvent } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { setLogSink } from '../../../src/lib/log';
import { FakeEngine } from './fake-engine';

const engines = [new FakeEngine('node-1', 'AAAA'), new FakeEngine('node-2', 'BBBB')];
let cluster: Cluster;
let server: http.Server;
let base = '';
const events: ClusterEvent[] = [];

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await Bun.sleep(20);
  }
}

beforeAll(async () => {
  setLogSink(() => undefined);
  const addrs = await Promise.all(engines.map((e) => e.start()));
  engines[0]!.containers.push({ Id: 'a'.repeat(64), Names: ['/web'], Image: 'busybox', State: 'running', Labels: {}, Created: 100, Memory: 1024 ** 3 });
  cluster = new Cluster({ engine: { refreshMinMs: 200, refreshMaxMs: 300, failureRetry: 2, overcommit: 0 }, strategy: 'spread', filters: ['health', 'port', 'constraint'], overcommit: 0, createRetry: 0 });
  cluster.bus.on('event', (e) => events.push(e));
  cluster.setEntries(addrs);
  server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters: ['health', 'port', 'constraint'], overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters: ['health', 'port', 'constraint'] });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await until(() => cluster.healthy().length === 2);
});

afterAll(async () => {
  cluster.stop();
  server.closeAllConnections();
  server.close();
  await Promise.all(engines.map((e) => e.stop().catch(() => undefined)));
});

describe('engines', () => {
  test('validated engines are Healthy with <daemonID>|<addr> IDs, labels and engine_connect events', () => {
    const e = cluster.engineByNode('node-1')!;
    expect(e.id).toBe(`AAAA|${e.addr}`);
    expect(e.labels).toMatchObject({ storagedriver: 'vfs', ostype: 'linux', zone: 'a' });
    expect(events.filter((ev) => ev.Action === 'engine_connect').map((ev) => ev.node?.Name).sort()).toEqual(['node-1', 'node-2']);
  });

  test('an engine event refreshes the cache and is re-emitted with node info', async () => {
    const fake = engines[1]!;
    fake.containers.push({ Id: 'b'.repeat(64), Names: ['/late'], Image: 'busybox', State: 'running', Labels: {}, Created: 200 });
    await until(() => fake.eventStreams.size > 0);
    fake.emit({ Type: 'container', Action: 'start', status: 'start', id: 'b'.repeat(64), from: 'busybox', Actor: { ID: 'b'.repeat(64), Attributes: { name: 'late' } }, time: 1 });
    await until(() => events.some((e) => e.Action === 'start'));
    const ev = events.find((e) => e.Action === 'start')!;
    expect(ev.from).toBe('busybox node:node-2');
    expect(ev.Actor?.Attributes?.['node.name']).toBe('node-2');
    expect(ev.node?.Name).toBe('node-2');
    expect(cluster.findContainer('late')?.engine.name).toBe('node-2');
  });
});

describe('API', () => {
  test('_ping and version are local; API version header advertised', async () => {
    const r = await fetch(`${base}/_ping`);
    expect(await r.text()).toBe('OK');
    expect(r.headers.get('api-version')).toBe('1.41');
    // dockerd's ping headers: buildx reads Builder-Version, the CLI Ostype and Swarm.
    expect(r.headers.get('builder-version')).toBe('2');
    expect(r.headers.get('swarm')).toBe('inactive');
    expect(r.headers.get('ostype')).toBe('linux');
    expect(r.headers.get('docker-experimental')).toBe('false');
    const head = await fetch(`${base}/_ping`, { method: 'HEAD' });
    expect(head.headers.get('api-version')).toBe('1.41');
    expect(head.headers.get('builder-version')).toBe('2');
    const v = (await (await fetch(`${base}/v1.41/version`)).json()) as any;
    expect(v.Version).toBe('swarm/test');
    expect(v.ApiVersion).toBe('1.41');
  });

  test('too-new client versions and unknown routes are refused', async () => {
    const r = await fetch(`${base}/v1.99/info`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as any).message).toBe('client version 1.99 is too new. Maximum supported API version is 1.45');
    const old = await fetch(`${base}/v1.18/info`);
    expect(old.status).toBe(400);
    expect(((await old.json()) as any).message).toContain('client version 1.18 is too old. Minimum supported API version is 1.24');
    const n = await fetch(`${base}/v1.41/swarm`);
    expect(n.status).toBe(404);
  });

  test('a known path with another method is a 405 naming the allowed ones', async () => {
    const r = await fetch(`${base}/_ping`, { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
    expect(((await r.json()) as any).message).toBe('method POST not allowed on /_ping (allowed: GET, HEAD)');
    expect((await fetch(`${base}/no/such/path`)).status).toBe(404);
  });

  test('a malformed escape in a path is a 400 on plain, upgrade and node routes', async () => {
    for (const path of ['/containers/%zz/json', '/v1.41/images/%E0%A4%A/json', '/_swarm/nodes/%zz/drain']) {
      const r = await fetch(`${base}${path}`, { method: path.endsWith('drain') ? 'POST' : 'GET' });
      expect({ path, status: r.status }).toEqual({ path, status: 400 });
      expect(((await r.json()) as any).message).toContain('malformed escape');
    }
    const { connect } = await import('node:net');
    const port = Number(new URL(base).port);
    const answer = await new Promise<string>((resolve) => {
      const s = connect(port, '127.0.0.1', () => s.write('POST /containers/%zz/attach?stream=1 HTTP/1.1\r\nHost: x\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n'));
      let buf = '';
      s.on('data', (d) => (buf += d.toString()));
      s.on('close', () => resolve(buf));
    });
    expect(answer).toStartWith('HTTP/1.1 400 ');
  });

  test('info aggregates nodes with SystemStatus lines', async () => {
    const info = (await (await fetch(`${base}/info`)).json()) as any;
    expect(info.NCPU).toBe(4);
    const status = info.SystemStatus as [string, string][];
    expect(status).toContainEqual(['Nodes', '2']);
    expect(status.filter(([k, v]) => k === '  └ Status' && v === 'Healthy')).toHaveLength(2);
    expect(status).toContainEqual(['  └ Reserved Memory', '1 GiB / 2 GiB']);
  });

  test('ps shows /<node>/<name>, filters by node and name; bad filters → 400', async () => {
    const list = (await (await fetch(`${base}/containers/json`)).json()) as any;
    expect(list.map((c: any) => c.Names[0]).sort()).toEqual(['/node-1/web', '/node-2/late']);
    const byNode = (await (await fetch(`${base}/containers/json?filters=${encodeURIComponent('{"node":["node-1"]}')}`)).json()) as any;
    expect(byNode.map((c: any) => c.Names[0])).toEqual(['/node-1/web']);
    const bad = await fetch(`${base}/containers/json?filters=${encodeURIComponent('{oops')}`);
    expect(bad.status).toBe(400);
  });

  test('inspect adds the Node object and the node IP for unspecified host IPs; unknown → 404', async () => {
    const c = (await (await fetch(`${base}/containers/node-1/web/json`)).json()) as any;
    expect(c.Node.Name).toBe('node-1');
    expect(c.NetworkSettings.Ports['80/tcp'][0].HostIp).toBe('127.0.0.1');
    const r = await fetch(`${base}/containers/nope/json`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as any).message).toBe('No such container: nope');
  });

  test('create is scheduled by spread, CpuShares converted, swarm id label set; name clash → 409', async () => {
    const r = await fetch(`${base}/containers/create?name=db`, { method: 'POST', body: JSON.stringify({ Image: 'busybox', HostConfig: { CpuShares: 1, Memory: 512 * 1024 ** 2 } }), headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(201);
    // node-1 has 1 GiB reserved: spread picks node-2
    expect(engines[1]!.creates).toHaveLength(1);
    const sent = engines[1]!.creates[0];
    expect(sent.HostConfig.CpuShares).toBe(512);
    expect(sent.Labels['com.docker.swarm.id']).toMatch(/^[0-9a-f]{64}$/);
    expect(cluster.findContainer('db')?.engine.name).toBe('node-2');
    const again = await fetch(`${base}/containers/create?name=db`, { method: 'POST', body: JSON.stringify({ Image: 'busybox' }), headers: { 'Content-Type': 'application/json' } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as any).message).toContain('The name db is already assigned');
  });

  test('malformed create body → 400; impossible reservation → 500 with v1 text', async () => {
    const bad = await fetch(`${base}/containers/create`, { method: 'POST', body: '{not json', headers: { 'Content-Type': 'application/json' } });
    expect(bad.status).toBe(400);
    const big = await fetch(`${base}/containers/create`, { method: 'POST', body: JSON.stringify({ Image: 'busybox', HostConfig: { Memory: 64 * 1024 ** 3 } }), headers: { 'Content-Type': 'application/json' } });
    expect(big.status).toBe(500);
    expect(((await big.json()) as any).message).toContain('no resources available to schedule container');
  });

  test('start goes to the owning engine and the cache follows', async () => {
    const r = await fetch(`${base}/containers/db/start`, { method: 'POST' });
    expect(r.status).toBe(204);
    expect(cluster.findContainer('db')?.container.summary.State).toBe('running');
  });

  test('an engine that stops answering goes Unhealthy, then comes back', async () => {
    const fake = engines[0]!;
    const e = cluster.engineByNode('node-1')!;
    const port = fake.port;
    await fake.stop();
    await until(() => e.state === 'unhealthy', 15000);
    const info = (await (await fetch(`${base}/info`)).json()) as any;
    expect(info.SystemStatus).toContainEqual(['  └ Status', 'Unhealthy']);
    expect(events.some((ev) => ev.Action === 'engine_disconnect' && ev.node?.Name === 'node-1')).toBe(true);
    const r = await fetch(`${base}/containers/node-1/web/json`);
    expect(r.status).toBe(500);
    expect(((await r.json()) as any).message).toBe('Container node-1/web running on unhealthy node node-1');
    const again = new FakeEngine('node-1', 'AAAA');
    again.containers = fake.containers;
    engines[0] = again;
    await again.start(port);
    await until(() => e.state === 'healthy', 15000);
    expect(events.some((ev) => ev.Action === 'engine_reconnect')).toBe(true);
  }, 40000);

  test('removal from discovery disconnects the engine', async () => {
    cluster.setEntries([cluster.engineByNode('node-1')!.addr]);
    expect(cluster.all()).toHaveLength(1);
    expect(events.some((ev) => ev.Action === 'engine_disconnect' && ev.node?.Name === 'node-2')).toBe(true);
  });
});
