/**
 * What one create+start costs the engine, through the manager's API: the create, one inspect, the
 * start, and nothing else (no container list, no re-read after the start, no network or volume
 * list for the events that follow); and what the events then change in the cache without a call.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../../../src/lib/api/server';
import { setLogSink } from '../../../src/lib/log';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { FakeEngine } from './fake-engine';

const fake = new FakeEngine('node-1', 'AAAA', 4, 8 * 1024 ** 3);
let cluster: Cluster;
let server: http.Server;
let base = '';
const json = { 'Content-Type': 'application/json' };

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await Bun.sleep(10);
  }
}

beforeAll(async () => {
  setLogSink(() => undefined);
  const addr = await fake.start();
  cluster = new Cluster({ engine: { refreshMinMs: 3_600_000, refreshMaxMs: 3_600_000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: ['health', 'port'], overcommit: 0, createRetry: 0 });
  cluster.setEntries([addr]);
  server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters: ['health', 'port'], overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters: ['health', 'port'] });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await until(() => cluster.healthy().length === 1 && fake.eventStreams.size > 0);
});

afterAll(async () => {
  cluster.stop();
  server.closeAllConnections();
  server.close();
  await fake.stop();
});

test('create+start through the manager: create, one inspect, start; the events cost nothing', async () => {
  const before = fake.requests.length;
  const r = await fetch(`${base}/containers/create?name=calls`, { method: 'POST', headers: json, body: JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '60'] }) });
  expect(r.status).toBe(201);
  const { Id } = (await r.json()) as { Id: string };
  // The engine's events, as dockerd sends them around a create and a start.
  const ev = (Type: string, Action: string, id: string, attrs: Record<string, string> = {}) => ({ Type, Action, status: Action, id, Actor: { ID: id, Attributes: attrs }, time: Math.floor(Date.now() / 1000), timeNano: Date.now() * 1e6 });
  fake.emit(ev('container', 'create', Id, { name: 'calls' }));
  const s = await fetch(`${base}/containers/${Id}/start`, { method: 'POST' });
  expect(s.status).toBe(204);
  fake.emit(ev('network', 'connect', 'node-1net', { container: Id, name: 'bridge' }));
  fake.emit(ev('container', 'start', Id, { name: 'calls' }));
  await Bun.sleep(200);
  expect(fake.requests.slice(before)).toEqual(['POST /containers/create', `GET /containers/${Id}/json`, `POST /containers/${Id}/start`]);
  const c = cluster.findContainer('calls')!.container;
  expect(c.summary.State).toBe('running');
  expect(c.inspect?.State?.Running).toBe(true);
  // docker ps shows it running, from the cache.
  const ps = (await (await fetch(`${base}/containers/json`)).json()) as { Names: string[]; State: string; Status: string }[];
  const row = ps.find((p) => p.Names.includes('/node-1/calls'))!;
  expect(row.State).toBe('running');
  expect(row.Status).toMatch(/^Up /);
});

test('pause, unpause, rename and health events change the cache without a call; die is read', async () => {
  const id = cluster.findContainer('calls')!.container.id;
  const before = fake.requests.length;
  const ev = (Action: string, attrs: Record<string, string> = {}) => ({ Type: 'container', Action, status: Action, id, Actor: { ID: id, Attributes: { name: 'calls', ...attrs } }, time: Math.floor(Date.now() / 1000), timeNano: Date.now() * 1e6 });
  fake.emit(ev('pause'));
  await until(() => cluster.findContainer('calls')?.container.summary.State === 'paused');
  fake.emit(ev('unpause'));
  await until(() => cluster.findContainer('calls')?.container.summary.State === 'running');
  fake.emit(ev('health_status: healthy'));
  await until(() => cluster.findContainer('calls')?.container.inspect?.State?.Health?.Status === 'healthy');
  fake.containers.find((c) => c.Id === id)!.Names = ['/renamed'];
  fake.emit(ev('rename', { name: 'renamed', oldName: '/calls' }));
  await until(() => cluster.findContainer('renamed')?.container.id === id);
  expect(cluster.findContainer('calls')).toBeUndefined();
  expect(fake.requests.slice(before)).toEqual([]);
  fake.containers.find((c) => c.Id === id)!.State = 'exited';
  fake.emit(ev('kill', { signal: '15' }));
  fake.emit(ev('die', { exitCode: '0' }));
  fake.emit(ev('stop'));
  await until(() => cluster.findContainer('renamed')?.container.summary.State === 'exited');
  await Bun.sleep(100);
  // kill and stop are followed by die, which alone is read.
  expect(fake.requests.slice(before)).toEqual([`GET /containers/${id}/json`]);
});

test('a container created on the engine directly is learned from its create event with one inspect', async () => {
  const id = 'f'.repeat(64);
  fake.containers.push({ Id: id, Names: ['/direct'], Image: 'busybox', State: 'created', Labels: { tier: 'x' }, Created: Math.floor(Date.now() / 1000) });
  const before = fake.requests.length;
  fake.emit({ Type: 'container', Action: 'create', status: 'create', id, Actor: { ID: id, Attributes: { name: 'direct' } }, time: Math.floor(Date.now() / 1000) });
  await until(() => cluster.findContainer('direct') !== undefined);
  const c = cluster.findContainer('direct')!.container;
  expect(c.summary.Labels).toEqual({ tier: 'x' });
  expect(c.summary.Names).toEqual(['/direct']);
  expect(fake.requests.slice(before)).toEqual([`GET /containers/${id}/json`]);
});
