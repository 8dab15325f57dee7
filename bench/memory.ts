/**
 * What the manager's caches cost in memory, measured with the manager's own code in this process:
 * Engines (src/lib/engine/engine.ts) validate against simulated engines and fill their caches as the
 * manager does; the JavaScript heap (with the string characters and buffers it holds outside) is
 * measured after a full collection, before and after, and again once the container caches are
 * dropped. Gives the bytes one cached container costs and the
 * bytes one engine costs in all (containers, images, networks, volumes, the Engine itself).
 */
import { heapStats } from 'bun:jsc';
import { Engine } from '../src/lib/engine/engine';
import { setLogSink } from '../src/lib/log';
import { startSimulator } from './engine-sim';
import type { EngineKind } from './payloads/profile';

export interface CacheBytes {
  engines: number;
  containers: number;
  /** Heap bytes per cached container (its entry, indexes and snapshot). */
  perContainer: number;
  /** Heap bytes per engine, everything included. */
  perEngine: number;
}

/** The live JavaScript heap and what it holds outside it (string characters, buffers), after a full collection. */
function heapBytes(): number {
  Bun.gc(true);
  Bun.gc(true);
  const h = heapStats();
  return h.heapSize + h.extraMemorySize;
}

export async function measureCacheBytes(engines: number, containers: number, kind: EngineKind): Promise<CacheBytes> {
  setLogSink(() => undefined);
  const sim = await startSimulator({ nodes: engines, containers, basePort: 0, seed: 11, engine: kind, workload: 'compose', autoExit: false });
  try {
    const opts = { refreshMinMs: 3_600_000, refreshMaxMs: 3_600_000, failureRetry: 3, overcommit: 0.05 };
    const hooks = { onTransition: () => undefined, onEvent: () => undefined, engineWithId: () => undefined };
    // The simulator caches each engine's list and /info when first asked: asked here first, so that
    // what is measured is the manager's side alone.
    for (const e of sim.engines) await Promise.all(['/containers/json?all=1', '/v1.45/containers/json?all=1', '/info', '/v1.45/info'].map(async (p) => (await fetch(`http://${e.addr}${p}`)).arrayBuffer()));
    const before = heapBytes();
    const list = sim.engines.map((e) => new Engine(e.addr, opts, hooks));
    for (let i = 0; i < list.length; i += 50) await Promise.all(list.slice(i, i + 50).map((e) => e.validate()));
    const loaded = heapBytes();
    const cached = list.reduce((n, e) => n + e.containers.size, 0);
    for (const e of list) e.dropContainers();
    const withoutContainers = heapBytes();
    for (const e of list) e.stop();
    return { engines, containers: cached, perContainer: (loaded - withoutContainers) / Math.max(1, cached), perEngine: (loaded - before) / engines };
  } finally {
    await sim.close();
  }
}
