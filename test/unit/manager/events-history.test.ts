/**
 * Event history through Engine + Cluster + API against an in-process engine that keeps its own
 * history and honours `since` (as dockerd does): a stream that breaks, or stalls while the engine is
 * Unhealthy, is reopened with `since` and nothing is lost or repeated; `GET /events` replays the
 * manager's history with since/until/filters and then goes on live.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createApiServer } from '../../../src/lib/api/server';
import { parseEventTime } from '../../../src/lib/api/system';
import { formatEventTime } from '../../../src/lib/engine/event-cursor';
import { Cluster, type ClusterEvent } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { setLogSink } from '../../../src/lib/log';

interface EngineEvent {
  Type: string;
  Action: string;
  status: string;
  id: string;
  from: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: string;
  time: number;
  timeNano: number;
}

/** An engine with an event history of its own: `/events?since=` replays it, as dockerd's does. */
class HistoryEngine {
  readonly server: http.Server;
  readonly history: EngineEvent[] = [];
  readonly streams = new Set<http.ServerResponse>();
  /** The `since` of every /events request (null: none). */
  readonly sinceAsked: (string | null)[] = [];
  /** New connections are reset (the engine unreachable); open streams stay, silent. */
  unreachable = false;
  private sockets = new Set<Socket>();
  addr = '';

  constructor(readonly name: string) {
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s) => {
      if (this.unreachable) return s.destroy();
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    this.addr = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.addr;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Something happened on the engine: into its history, and to the open streams unless `silent`. */
  event(action: string, name: string, silent = false): EngineEvent {
    const now = Date.now();
    const id = `${name}`.padEnd(64, '0');
    const e: EngineEvent = { Type: 'container', Action: action, status: action, id, from: 'busybox', Actor: { ID: id, Attributes: { name, image: 'busybox' } }, scope: 'local', time: Math.floor(now / 1000), timeNano: now * 1e6 + this.history.length };
    this.history.push(e);
    if (!silent) for (const s of this.streams) s.write(JSON.stringify(e) + '\n');
    return e;
  }

  /** The open streams break (the engine restarted). */
  breakStreams(): void {
    for (const s of this.streams) s.destroy();
    this.streams.clear();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.unreachable) return void req.socket.destroy();
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1\.\d+/, '');
    const json = (body: unknown) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    req.resume();
    if (path === '/info') return json({ ID: `ID-${this.name}`, Name: this.name, NCPU: 2, MemTotal: 2 * 1024 ** 3, Driver: 'vfs', OSType: 'linux', Labels: [] });
    if (path === '/version') return json({ Version: '20.10.24', ApiVersion: '1.41' });
    if (path === '/containers/json' || path === '/images/json' || path === '/networks') return json([]);
    if (path === '/volumes') return json({ Volumes: [], Warnings: null });
    if (path === '/events') {
      const since = url.searchParams.get('since');
      this.sinceAsked.push(since);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if (since) {
        const [s, n = '0'] = since.split('.');
        const from = Number(s) * 1e9 + Number(n.padEnd(9, '0'));
        for (const e of this.history) if (e.timeNano >= from) res.write(JSON.stringify(e) + '\n');
      }
      res.flushHeaders();
      this.streams.add(res);
      res.on('close', () => this.streams.delete(res));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end('{"message":"page not found"}');
  }
}

const engines = [new HistoryEngine('node-1'), new HistoryEngine('node-2')];
let cluster: Cluster;
let server: http.Server;
let base = '';
const live: ClusterEvent[] = [];
const t0 = Date.now() * 1e6;

async function until(what: string, cond: () => boolean, ms = 10_000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** `GET /events?...` read to its end (the request must have an `until` in the past, or be aborted by `ms`). */
async function eventsApi(query: string, ms = 5000): Promise<ClusterEvent[]> {
  const r = await fetch(`${base}/events?${query}`, { signal: AbortSignal.timeout(ms) });
  const text = await r.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ClusterEvent);
}

const mine = (list: ClusterEvent[], node: string) => list.filter((e) => e.Type === 'container' && e.node?.Name === node).map((e) => `${e.Action} ${e.Actor?.Attributes?.name}`);

beforeAll(async () => {
  setLogSink(() => undefined);
  const addrs = await Promise.all(engines.map((e) => e.start()));
  cluster = new Cluster({ engine: { refreshMinMs: 150, refreshMaxMs: 200, failureRetry: 2, overcommit: 0 }, strategy: 'spread', filters: ['health'], overcommit: 0, createRetry: 0 });
  cluster.bus.on('event', (e: ClusterEvent) => live.push(e));
  cluster.setEntries(addrs);
  server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters: ['health'], overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters: ['health'] });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await until('2 healthy engines', () => cluster.healthy().length === 2);
  await until('2 event streams', () => engines.every((e) => e.streams.size === 1));
});

afterAll(async () => {
  cluster.stop();
  server.closeAllConnections();
  server.close();
  await Promise.all(engines.map((e) => e.stop().catch(() => undefined)));
});

describe('engine streams catch up', () => {
  test('the first stream asks from when the engine was added', () => {
    for (const e of engines) {
      const since = e.sinceAsked[0];
      expect(since).toMatch(/^\d+\.\d{9}$/);
      expect(parseEventTime('since', since!)).toBeLessThanOrEqual(Date.now() * 1e6);
      expect(parseEventTime('since', since!)).toBeGreaterThanOrEqual(t0 - 1e9);
    }
  });

  test('a stream that breaks is reopened with since = the last event seen; what it replays twice is dropped', async () => {
    const e = engines[0]!;
    e.event('create', 'a1');
    const seen = e.event('start', 'a1');
    await until('a1 start', () => live.some((x) => x.Action === 'start' && x.Actor?.Attributes?.name === 'a1'));
    e.breakStreams();
    // While the manager has no stream: the engine goes on.
    e.event('die', 'a1', true);
    e.event('destroy', 'a1', true);
    await until('a1 destroy', () => live.some((x) => x.Action === 'destroy' && x.Actor?.Attributes?.name === 'a1'), 15_000);
    const since = e.sinceAsked.at(-1)!;
    expect(parseEventTime('since', since)).toBeLessThanOrEqual(seen.timeNano);
    expect(parseEventTime('since', since)).toBeGreaterThan(seen.timeNano - 1e6);
    expect(mine(live, 'node-1')).toEqual(['create a1', 'start a1', 'die a1', 'destroy a1']);
    expect(mine(cluster.events.select(0), 'node-1')).toEqual(['create a1', 'start a1', 'die a1', 'destroy a1']);
  }, 20_000);

  test('a stream left open while the engine was Unhealthy is reopened when it comes back', async () => {
    const e = engines[1]!;
    e.event('create', 'b1');
    await until('b1 create', () => live.some((x) => x.Actor?.Attributes?.name === 'b1'));
    const asked = e.sinceAsked.length;
    // The link is cut: the open stream stays open but silent, new connections fail.
    e.unreachable = true;
    e.event('start', 'b1', true);
    e.event('die', 'b1', true);
    await until('engine_disconnect', () => live.some((x) => x.Action === 'engine_disconnect' && x.node?.Name === 'node-2'));
    e.unreachable = false;
    await until('engine_reconnect', () => live.some((x) => x.Action === 'engine_reconnect' && x.node?.Name === 'node-2'));
    await until('b1 die', () => live.some((x) => x.Action === 'die' && x.Actor?.Attributes?.name === 'b1'), 15_000);
    expect(e.sinceAsked.length).toBeGreaterThan(asked);
    expect(mine(live, 'node-2')).toEqual(['create b1', 'start b1', 'die b1']);
    expect(e.streams.size).toBe(1);
  }, 30_000);
});

describe('GET /events', () => {
  test('since/until replay the history in time order, each event with its node', async () => {
    const untilNow = formatEventTime(Date.now() * 1e6);
    const got = await eventsApi(`since=${formatEventTime(t0)}&until=${untilNow}`);
    expect(mine(got, 'node-1')).toEqual(['create a1', 'start a1', 'die a1', 'destroy a1']);
    expect(mine(got, 'node-2')).toEqual(['create b1', 'start b1', 'die b1']);
    const times = got.map((x) => x.timeNano!);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    for (const x of got) {
      expect(x.node?.Name).toMatch(/^node-[12]$/);
      expect(x.Actor?.Attributes?.['node.name']).toBe(x.node!.Name);
    }
    expect(got.filter((x) => x.Type === 'swarm').map((x) => `${x.Action} ${x.node?.Name}`)).toEqual(expect.arrayContaining(['engine_connect node-1', 'engine_connect node-2', 'engine_disconnect node-2', 'engine_reconnect node-2']));
  });

  test('filters apply to the replay; relative and RFC 3339 times work; until before since is 400', async () => {
    const got = await eventsApi(`since=10m&until=${encodeURIComponent(new Date().toISOString())}&filters=${encodeURIComponent(JSON.stringify({ event: ['die'], node: ['node-2'] }))}`);
    expect(got.map((x) => `${x.Action} ${x.Actor?.Attributes?.name}`)).toEqual(['die b1']);
    const r = await fetch(`${base}/events?since=200&until=100`);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toContain('cannot be after');
    expect((await fetch(`${base}/events?since=yesterday`)).status).toBe(400);
  });

  test('without until, the replay goes on live with no gap; a future until ends the stream', async () => {
    const stopAt = Date.now() + 1500;
    const reading = eventsApi(`since=${formatEventTime(t0)}&until=${formatEventTime(stopAt * 1e6)}&filters=${encodeURIComponent(JSON.stringify({ container: ['c1'] }))}`, 8000);
    await Bun.sleep(300);
    engines[0]!.event('create', 'c1');
    engines[0]!.event('start', 'c1');
    const got = await reading;
    expect(Date.now()).toBeGreaterThanOrEqual(stopAt - 50);
    expect(got.map((x) => x.Action)).toEqual(['create', 'start']);
  });

  test('parseEventTime reads the CLI form, durations and RFC 3339 to the nanosecond digits given', () => {
    expect(parseEventTime('since', '1700000000.5')).toBe(1_700_000_000_500_000_000);
    expect(parseEventTime('since', '1700000000')).toBe(1_700_000_000 * 1e9);
    expect(parseEventTime('since', '1h', 10_000_000)).toBe((10_000_000 - 3_600_000) * 1e6);
    expect(parseEventTime('until', '2023-11-14T22:13:20.000000500Z')).toBe(1_700_000_000_000_000_500);
    expect(() => parseEventTime('until', 'soon')).toThrow('invalid value for until: soon');
  });
});
