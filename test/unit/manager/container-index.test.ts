/**
 * Container lookups (Cluster.findContainer over each engine's ContainerIndex) give what a scan of
 * every cached container gives, in every case of spec §3.1, while containers come, change name and
 * go; and lookups cost no scan.
 */
import { describe, expect, test } from 'bun:test';
import { ContainerIndex, primaryNames, swarmIdOf } from '../../../src/lib/engine/container-index';
import type { CachedContainer, Engine } from '../../../src/lib/engine/engine';
import { setLogSink } from '../../../src/lib/log';
import { Cluster, type FoundContainer } from '../../../src/lib/manager/cluster';
import { FakeEngine } from './fake-engine';

function entry(id: string, names: string[], labels: Record<string, string> = {}, created = 100): CachedContainer {
  return { id, summary: { Id: id, Names: names.map((n) => `/${n}`), Labels: labels, Created: created, State: 'running' } };
}

/** Each stand-in engine's index, which the tests fill (an Engine's own cache is read-only from outside). */
const stubIndexes = new Map<Engine, ContainerIndex>();
const indexOf = (e: Engine) => stubIndexes.get(e)!;
const stubPut = (e: Engine, c: CachedContainer) => indexOf(e).set(c.id, c);

function fakeEngine(name: string, healthy = true): Engine {
  const containers = new ContainerIndex();
  const e = { name, id: `${name.toUpperCase()}|${name}:2375`, daemonId: name.toUpperCase(), addr: `${name}:2375`, state: healthy ? 'healthy' : 'unhealthy', isHealthy: () => healthy, containers } as unknown as Engine;
  stubIndexes.set(e, containers);
  return e;
}

function clusterOf(engines: Engine[]): Cluster {
  const c = new Cluster({ engine: { refreshMinMs: 1e6, refreshMaxMs: 1e6, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: [], overcommit: 0, createRetry: 0 });
  for (const e of engines) c.engines.set(e.addr, e);
  return c;
}

/** The lookup as it was written before the indexes: a scan of every container (the reference). */
function scan(engines: Engine[], ref: string): FoundContainer | undefined {
  if (!ref) return undefined;
  const every: FoundContainer[] = [];
  for (const engine of engines) for (const container of engine.containers.values()) every.push({ engine, container });
  const live = (copies: FoundContainer[]) =>
    copies.reduce((best, f) => {
      const h = f.engine.isHealthy() ? 1 : 0;
      const bh = best.engine.isHealthy() ? 1 : 0;
      const t = f.container.summary.Created ?? 0;
      const bt = best.container.summary.Created ?? 0;
      return h > bh || (h === bh && t > bt) ? f : best;
    });
  const byId = every.find((f) => f.container.id === ref);
  if (byId) return byId;
  const bySwarmId = every.filter((f) => {
    const sid = swarmIdOf(f.container);
    return sid !== '' && (sid === ref || (ref.length === 12 && sid.startsWith(ref)));
  });
  if (bySwarmId.length) return live(bySwarmId);
  const name = ref.replace(/^\//, '');
  const byName = every.filter((f) => primaryNames(f.container).includes(name));
  if (byName.length === 1) return byName[0];
  const slash = name.indexOf('/');
  if (slash > 0) {
    const node = name.slice(0, slash);
    const bare = name.slice(slash + 1);
    const hits = every.filter((f) => (f.engine.name === node || f.engine.id === node || f.engine.daemonId === node) && primaryNames(f.container).includes(bare));
    if (hits.length === 1) return hits[0];
  }
  if (byName.length > 1) return undefined;
  const prefix = every.filter((f) => f.container.id.startsWith(ref));
  if (prefix.length === 1) return prefix[0];
  if (prefix.length > 1) return undefined;
  const swarmPrefix = every.filter((f) => swarmIdOf(f.container).startsWith(ref));
  return new Set(swarmPrefix.map((f) => swarmIdOf(f.container))).size === 1 ? live(swarmPrefix) : undefined;
}

const SID = 'com.docker.swarm.id';

describe('findContainer over the indexes answers as a scan does', () => {
  const n1 = fakeEngine('node-1');
  const n2 = fakeEngine('node-2');
  const n3 = fakeEngine('node-3', false);
  const engines = [n1, n2, n3];
  const cluster = clusterOf(engines);
  const sidA = 'a'.repeat(12) + 'f'.repeat(52);
  stubPut(n1, entry('abc111', ['web'], { [SID]: sidA }, 100));
  stubPut(n3, entry('abc222', ['web-old'], { [SID]: sidA }, 200)); // stale copy on an unhealthy node
  stubPut(n2, entry('abd333', ['db'], { [SID]: 'b'.repeat(64) }, 50));
  stubPut(n2, entry('fff444', ['shared']));
  stubPut(n3, entry('fff555', ['shared']));
  stubPut(n1, entry('ccc666', ['cache', 'other/alias'].map((x) => x)));
  stubPut(n2, entry('ddd777', ['twin'], { [SID]: 'c'.repeat(12) }));
  stubPut(n2, entry('ddd888', ['twin2'], { [SID]: 'c'.repeat(12) + 'd' }));
  const refs = [
    'abc111', 'web', '/web', 'node-1/web', 'NODE-1/web', 'node-1/db', 'node-2/db', 'abc', 'ab', 'abd', 'fff', 'shared', 'node-2/shared', 'node-3/shared',
    sidA, sidA.slice(0, 12), 'a'.repeat(5), 'b'.repeat(12), 'b'.repeat(64), 'cache', 'alias', 'other/alias', 'c'.repeat(12), 'c'.repeat(6), 'ccc', 'ddd', 'nope', '', '/', 'node-9/web',
  ];
  test.each(refs.map((r) => [r]))('%p', (ref) => {
    expect(cluster.findContainer(ref)).toEqual(scan(engines, ref));
  });

  test('after renames, removals and re-adds the indexes still agree', () => {
    stubPut(n1, entry('abc111', ['web2'], { [SID]: sidA }, 100));
    indexOf(n2).delete('fff444');
    stubPut(n2, entry('fff444', ['shared']));
    indexOf(n1).delete('ccc666');
    for (const ref of [...refs, 'web2']) expect(cluster.findContainer(ref)).toEqual(scan(engines, ref));
    expect(cluster.findContainer('web')).toBeUndefined();
    expect(cluster.findContainer('web2')?.container.id).toBe('abc111');
    expect(cluster.nameTaken('web2')).toBe(true);
    expect(cluster.nameTaken('/cache')).toBe(false);
  });

  test('a plain Map (as test doubles hold) is indexed on the fly', () => {
    const plain = { ...fakeEngine('node-4'), containers: new Map([['eee999', entry('eee999', ['plain'])]]) } as unknown as Engine;
    const c = clusterOf([plain]);
    expect(c.findContainer('plain')?.container.id).toBe('eee999');
    expect(c.findContainer('eee')?.container.id).toBe('eee999');
  });
});

test('a lookup on 1,000 engines × 30 containers costs well under a scan', () => {
  const engines = Array.from({ length: 1000 }, (_, i) => fakeEngine(`n-${i}`));
  for (const [i, e] of engines.entries()) for (let k = 0; k < 30; k++) stubPut(e, entry(`${i}-${k}`.padEnd(64, '0'), [`c-${i}-${k}`]));
  const cluster = clusterOf(engines);
  const t0 = performance.now();
  for (let k = 0; k < 200; k++) expect(cluster.findContainer(`c-${k}-7`)?.engine.name).toBe(`n-${k}`);
  const indexed = (performance.now() - t0) / 200;
  const t1 = performance.now();
  for (let k = 0; k < 20; k++) scan(engines, `c-${k}-7`);
  const scanned = (performance.now() - t1) / 20;
  expect(indexed).toBeLessThan(scanned / 3);
});

describe('findContainer through the cluster index (engines the cluster made) answers as a scan does', () => {
  test('every case, and again after renames, removals, re-adds and an engine leaving', async () => {
    setLogSink(() => undefined);
    const fakes = ['node-1', 'node-2', 'node-3'].map((name) => new FakeEngine(name, name.toUpperCase()));
    const addrs = await Promise.all(fakes.map((f) => f.start()));
    const cluster = new Cluster({ engine: { refreshMinMs: 1e6, refreshMaxMs: 1e6, failureRetry: 3, overcommit: 0, timeoutMs: 500 }, strategy: 'spread', filters: [], overcommit: 0, createRetry: 0 });
    cluster.setEntries(addrs);
    for (let i = 0; i < 250 && cluster.healthy().length < 3; i++) await Bun.sleep(20);
    const [n1, n2, n3] = addrs.map((a) => cluster.engines.get(a)!);
    expect(cluster.healthy().length).toBe(3);
    // node-3 fails as often as it may: Unhealthy, its containers still cached.
    for (let i = 0; i < 3; i++) n3!.health.failure('connection refused', true);
    expect(n3!.state).toBe('unhealthy');
    // Entries are put as a reschedule puts one back (the cache's own way in; the fakes list none).
    const put = (e: Engine, c: CachedContainer) => e.restoreContainer(c);
    const sidA = 'a'.repeat(12) + 'f'.repeat(52);
    put(n1!, entry('abc111', ['web'], { [SID]: sidA }, 100));
    put(n3!, entry('abc222', ['web-old'], { [SID]: sidA }, 200));
    put(n2!, entry('abd333', ['db'], { [SID]: 'b'.repeat(64) }, 50));
    put(n2!, entry('fff444', ['shared']));
    put(n3!, entry('fff555', ['shared']));
    put(n1!, entry('ccc666', ['cache']));
    put(n2!, entry('ddd777', ['twin'], { [SID]: 'c'.repeat(12) }));
    put(n2!, entry('ddd888', ['twin2'], { [SID]: 'c'.repeat(12) + 'd' }));
    const long = 'e'.repeat(64);
    put(n1!, entry(long, ['long']));
    put(n2!, entry(`${'e'.repeat(12)}0${'1'.repeat(51)}`, ['long2']));
    const refs = [
      'abc111', 'web', '/web', 'node-1/web', 'NODE-1/web', 'node-2/db', 'abc', 'abd', 'fff', 'shared', 'node-2/shared', 'node-3/shared', sidA, sidA.slice(0, 12),
      'a'.repeat(5), 'b'.repeat(12), 'b'.repeat(64), 'cache', 'c'.repeat(12), 'c'.repeat(6), 'ddd', long, long.slice(0, 13), 'e'.repeat(12), 'e'.repeat(14), 'nope', '/', 'node-9/web',
    ];
    const check = () => {
      for (const ref of refs) expect([ref, cluster.findContainer(ref)]).toEqual([ref, scan(cluster.registered(), ref)]);
      for (const name of ['web', 'shared', 'web2', 'nope']) expect(cluster.nameTaken(name)).toBe(cluster.registered().some((e) => [...e.containers.values()].some((c) => primaryNames(c).includes(name))));
    };
    check();
    put(n1!, entry('abc111', ['web2'], { [SID]: sidA }, 100));
    n2!.forgetContainer('fff444');
    put(n2!, entry('fff444', ['shared']));
    n1!.forgetContainer('ccc666');
    refs.push('web2');
    check();
    cluster.setEntries(['127.0.0.1:9', '127.0.0.2:9']); // node-3 leaves
    check();
    expect(cluster.findContainer('abc222')).toBeUndefined();
    cluster.stop();
    await Promise.all(fakes.map((f) => f.stop()));
  });
});
