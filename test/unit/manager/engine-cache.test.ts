/**
 * An engine's cache (engine-cache.ts): exec instances are bounded (the oldest created goes first) and
 * belong to their container (it takes them when it goes), and while kept an exec still routes to the
 * engine that made it, through the manager's API.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../../../src/lib/api/server';
import type { CachedContainer } from '../../../src/lib/engine/engine';
import { EngineCache, MAX_EXECS } from '../../../src/lib/engine/engine-cache';
import { setLogSink } from '../../../src/lib/log';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { FakeEngine } from './fake-engine';

const entry = (id: string): CachedContainer => ({ id, summary: { Id: id, Names: [`/${id}`], State: 'running', Labels: {} } });

describe('EngineCache', () => {
  test('20,000 exec creations keep the cap, newest kept, oldest dropped', () => {
    const cache = new EngineCache();
    for (let c = 0; c < 100; c++) cache.containerRead(entry(`c${c}`));
    for (let i = 0; i < 20_000; i++) cache.execCreated(`x${i}`, `c${i % 100}`);
    expect(cache.execCount).toBe(MAX_EXECS);
    expect(cache.hasExec('x0')).toBe(false);
    expect(cache.hasExec(`x${20_000 - MAX_EXECS - 1}`)).toBe(false);
    expect(cache.hasExec(`x${20_000 - MAX_EXECS}`)).toBe(true);
    expect(cache.hasExec('x19999')).toBe(true);
  });

  test("a container that goes takes its execs, and only its", () => {
    const cache = new EngineCache();
    for (const id of ['a', 'b', 'c']) cache.containerRead(entry(id));
    cache.execCreated('xa1', 'a');
    cache.execCreated('xa2', 'a');
    cache.execCreated('xb1', 'b');
    cache.execCreated('xc1', 'c');
    const v = cache.containersVersion;
    cache.forgetContainer('a');
    expect(cache.containersVersion).toBeGreaterThan(v);
    expect([cache.hasExec('xa1'), cache.hasExec('xa2'), cache.hasExec('xb1'), cache.hasExec('xc1')]).toEqual([false, false, true, true]);
    // Gone from a full list (removed while the manager did not see the event).
    cache.applyList(new Map([['c', entry('c')]]), Date.now() + 1);
    expect([...cache.containers.keys()]).toEqual(['c']);
    expect([cache.hasExec('xb1'), cache.hasExec('xc1'), cache.execCount]).toEqual([false, true, 1]);
  });

  test('an exec created again moves to the newest place', () => {
    const cache = new EngineCache(undefined, 2);
    cache.containerRead(entry('a'));
    cache.execCreated('x1', 'a');
    cache.execCreated('x2', 'a');
    cache.execCreated('x1', 'a');
    cache.execCreated('x3', 'a');
    expect([cache.hasExec('x1'), cache.hasExec('x2'), cache.hasExec('x3')]).toEqual([true, false, true]);
  });
});

describe('exec routing through the manager', () => {
  const fake = new FakeEngine('node-1', 'AAAA');
  const web = 'w'.repeat(64);
  let cluster: Cluster;
  let server: http.Server;
  let base = '';

  beforeAll(async () => {
    setLogSink(() => undefined);
    const addr = await fake.start();
    fake.containers.push({ Id: web, Names: ['/web'], Image: 'busybox', State: 'running', Labels: {}, Created: 1 });
    cluster = new Cluster({ engine: { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: ['health'], overcommit: 0, createRetry: 0 });
    cluster.setEntries([addr]);
    server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters: ['health'], overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters: ['health'] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (let i = 0; i < 250 && !cluster.healthy().length; i++) await Bun.sleep(20);
    expect(cluster.healthy().length).toBe(1);
  });

  afterAll(async () => {
    cluster.stop();
    server.closeAllConnections();
    server.close();
    await fake.stop();
  });

  const createExec = async () => {
    const r = await fetch(`${base}/containers/web/exec`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Cmd: ['true'] }) });
    expect(r.status).toBe(201);
    return ((await r.json()) as { Id: string }).Id;
  };
  const inspectExec = (id: string) => fetch(`${base}/exec/${id}/json`);

  test('an exec routes to its engine while kept; past the cap the oldest no longer does', async () => {
    const engine = cluster.healthy()[0]!;
    const first = await createExec();
    expect(cluster.findExec(first)).toBe(engine);
    const r = await inspectExec(first);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { ContainerID: string }).ContainerID).toBe(web);
    for (let i = 0; i < 20_000; i++) engine.execCreated(`later${i}`, web);
    expect(engine.hasExec(first)).toBe(false);
    expect(engine.hasExec('later19999')).toBe(true);
    const gone = await inspectExec(first);
    expect(gone.status).toBe(404);
    expect(((await gone.json()) as { message: string }).message).toBe(`No such exec instance: ${first}`);
    expect((await inspectExec(await createExec())).status).toBe(200);
  });

  test('destroying the container drops its execs', async () => {
    const engine = cluster.healthy()[0]!;
    const id = await createExec();
    expect(engine.hasExec(id)).toBe(true);
    fake.containers.splice(0, fake.containers.length);
    fake.emit({ Type: 'container', Action: 'destroy', status: 'destroy', id: web, Actor: { ID: web, Attributes: { name: 'web' } }, time: Math.floor(Date.now() / 1000), timeNano: Date.now() * 1e6 });
    for (let i = 0; i < 100 && engine.containers.has(web); i++) await Bun.sleep(20);
    expect(engine.containers.has(web)).toBe(false);
    expect(engine.hasExec(id)).toBe(false);
    expect(engine.hasExec('later19999')).toBe(false);
    expect((await inspectExec(id)).status).toBe(404);
  });
});
