/**
 * v1's implicit OS rule through the manager's create path (not reproducible on the Linux-only test bed):
 * an engine refusing an image with `image operating system "windows" cannot be used on this platform`
 * makes the create retry once with the constraint ostype==windows, which lands on the Windows engine
 * and stays in the container's labels.
 */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import type http from 'node:http';
import { Cluster } from '../../../src/lib/manager/cluster';
import { createContainer } from '../../../src/lib/manager/create';
import { Placer } from '../../../src/lib/manager/scheduling';
import { setLogSink } from '../../../src/lib/log';
import { FakeEngine } from './fake-engine';

const linux = new FakeEngine('node-1', 'LLLL');
const windows = new FakeEngine('node-2', 'WWWW');
let cluster: Cluster;
let refusals = 0;

/** Puts `handler` in front of the fake's own request listener; it returns true when it answered. */
function intercept(engine: FakeEngine, handler: (req: http.IncomingMessage, res: http.ServerResponse, path: string) => boolean): void {
  const original = engine.server.listeners('request')[0] as http.RequestListener;
  engine.server.removeAllListeners('request');
  engine.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/v1\.\d+/, '');
    if (!handler(req, res, path)) original(req, res);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): true {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
  return true;
}

beforeAll(async () => {
  setLogSink(() => undefined);
  intercept(linux, (req, res, path) => {
    if (path !== '/containers/create') return false;
    req.resume();
    refusals++;
    return json(res, 500, { message: 'image operating system "windows" cannot be used on this platform' });
  });
  intercept(windows, (_req, res, path) => {
    if (path !== '/info') return false;
    return json(res, 200, { ID: 'WWWW', Name: 'node-2', NCPU: 2, MemTotal: 2 * 1024 ** 3, Driver: 'windowsfilter', OSType: 'windows', Labels: [] });
  });
  // spread would pick the emptier Linux engine first
  for (const i of [1, 2, 3]) windows.containers.push({ Id: String(i).repeat(64), Names: [`/w${i}`], Image: 'nanoserver', State: 'running', Labels: {}, Created: 1 });
  const addrs = await Promise.all([linux.start(), windows.start()]);
  cluster = new Cluster({ engine: { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: ['health', 'constraint'], overcommit: 0, createRetry: 0 });
  cluster.setEntries(addrs);
  const end = Date.now() + 5000;
  while (cluster.healthy().length < 2) {
    if (Date.now() > end) throw new Error('fake engines did not validate');
    await Bun.sleep(20);
  }
});

afterAll(async () => {
  cluster.stop();
  await Promise.all([linux.stop(), windows.stop()]);
});

test('OS mismatch: retried once with ostype==<os>, lands on that engine, constraint kept as a label', async () => {
  expect(cluster.snapshot().find((n) => n.name === 'node-2')?.labels.ostype).toBe('windows');
  const placer = new Placer(cluster, { strategy: 'spread', filters: ['health', 'constraint'], overcommit: 0 });
  const created = (await createContainer(placer, { Image: 'nanoserver', Env: ['constraint:zone!=b'] }, 'iis')) as { Id: string };
  expect(created.Id.startsWith('node-2')).toBe(true);
  expect(refusals).toBe(1);
  const body = windows.creates.at(-1) as { Labels: Record<string, string>; Env: string[] };
  expect(body.Labels['com.docker.swarm.constraints']).toBe('["zone!=b","ostype==windows"]');
  expect(body.Env).toEqual([]);
});
