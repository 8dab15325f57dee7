/** The cluster follows discovery: file:// entries appear as engines, vanish as Disconnected. */
import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiscovery } from '../../../src/lib/discovery/registry';
import { Cluster, type ClusterEvent } from '../../../src/lib/manager/cluster';
import { setLogSink } from '../../../src/lib/log';
import { FakeEngine } from './fake-engine';

const dir = mkdtempSync(join(tmpdir(), 'swarm-disc-'));
const fakes = [new FakeEngine('node-a', 'AAAA'), new FakeEngine('node-b', 'BBBB')];
const stop = new AbortController();

afterAll(async () => {
  stop.abort();
  await Promise.all(fakes.map((f) => f.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function until(cond: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await Bun.sleep(20);
  }
}

test('file:// discovery: engines added, validated and removed as the file changes', async () => {
  setLogSink(() => undefined);
  const [a, b] = await Promise.all(fakes.map((f) => f.start()));
  const file = join(dir, 'cluster');
  writeFileSync(file, `# my cluster\n${a}\n`);
  const discovery = await createDiscovery(`file://${file}`, { heartbeatMs: 100, ttlMs: 300, options: {} });
  const cluster = new Cluster({ engine: { refreshMinMs: 1000, refreshMaxMs: 1000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: ['health'], overcommit: 0, createRetry: 0 });
  const events: ClusterEvent[] = [];
  cluster.bus.on('event', (e) => events.push(e));
  void cluster.watch(discovery, stop.signal);
  await until(() => cluster.healthy().length === 1);
  expect(cluster.healthy()[0]!.name).toBe('node-a');
  writeFileSync(file, `${a}\n${b} # second\n`);
  await until(() => cluster.healthy().length === 2);
  writeFileSync(file, `${b}\n`);
  await until(() => cluster.all().length === 1);
  expect(cluster.all()[0]!.name).toBe('node-b');
  expect(events.map((e) => `${e.Action} ${e.node?.Name}`)).toEqual(['engine_connect node-a', 'engine_connect node-b', 'engine_disconnect node-a']);
  cluster.stop();
});

test('an address that is not a Docker engine stays Pending with the reason', async () => {
  const cluster = new Cluster({ engine: { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: ['health'], overcommit: 0, createRetry: 0 });
  cluster.setEntries(['127.0.0.1:1']);
  const e = cluster.all()[0]!;
  await until(() => e.health.lastError !== '');
  expect(e.state).toBe('pending');
  expect(e.health.lastError).toContain('ECONNREFUSED');
  cluster.stop();
});
