/**
 * Which engines hold a container of a given ID, ID prefix (12 characters), primary name, swarm ID
 * (and its 12-character prefix) or global container ID, for the whole cluster. Each engine's
 * ContainerIndex reports every change (engine.ts), so a lookup on 5,000 engines asks the few
 * engines that hold the key instead of all of them; the engines' own indexes then answer in their
 * order. Counts, not sets: an engine may hold several containers under one key.
 */
import { globalCopyOf, primaryNames, swarmIdOf } from '../engine/container-index';
import type { CachedContainer, Engine } from '../engine/engine';

/** One engine holding the key once (nearly always), or each holder with how many it holds. */
type Holders = Engine | Map<Engine, number>;

function put(index: Map<string, Holders>, key: string, engine: Engine): void {
  if (!key) return;
  const had = index.get(key);
  if (had === undefined) index.set(key, engine);
  else if (had instanceof Map) had.set(engine, (had.get(engine) ?? 0) + 1);
  else index.set(key, new Map([[had, had === engine ? 2 : 1], ...(had === engine ? [] : [[engine, 1] as [Engine, number]])]));
}

function drop(index: Map<string, Holders>, key: string, engine: Engine): void {
  if (!key) return;
  const had = index.get(key);
  if (had === undefined) return;
  if (!(had instanceof Map)) {
    if (had === engine) index.delete(key);
    return;
  }
  const n = had.get(engine);
  if (n === undefined) return;
  if (n > 1) had.set(engine, n - 1);
  else had.delete(engine);
  if (had.size === 1) {
    const [[only, count]] = had;
    if (count === 1) index.set(key, only!);
  } else if (!had.size) index.delete(key);
}

const NONE: readonly Engine[] = Object.freeze([]);

export class ClusterIndex {
  private readonly ids = new Map<string, Holders>();
  private readonly shortIds = new Map<string, Holders>();
  private readonly names = new Map<string, Holders>();
  private readonly swarmIds = new Map<string, Holders>();
  private readonly shortSwarmIds = new Map<string, Holders>();
  private readonly globalIds = new Map<string, Holders>();

  /** A container of `engine` changed from `was` to `now` (either may be absent). */
  change(engine: Engine, was: CachedContainer | undefined, now: CachedContainer | undefined): void {
    if (was) this.apply(engine, was, drop);
    if (now) this.apply(engine, now, put);
  }

  private apply(engine: Engine, c: CachedContainer, op: typeof put): void {
    op(this.ids, c.id, engine);
    op(this.shortIds, c.id.slice(0, 12), engine);
    for (const n of primaryNames(c)) op(this.names, n, engine);
    const sid = swarmIdOf(c);
    op(this.swarmIds, sid, engine);
    op(this.shortSwarmIds, sid.slice(0, 12), engine);
    op(this.globalIds, globalCopyOf(c), engine);
  }

  private holders(index: Map<string, Holders>, key: string): Iterable<Engine> {
    const h = index.get(key);
    if (h === undefined) return NONE;
    return h instanceof Map ? h.keys() : [h];
  }

  withId(id: string): Iterable<Engine> {
    return this.holders(this.ids, id);
  }

  /** Engines with a container whose ID starts with these 12 characters. */
  withShortId(short: string): Iterable<Engine> {
    return this.holders(this.shortIds, short);
  }

  named(name: string): Iterable<Engine> {
    return this.holders(this.names, name);
  }

  withSwarmId(sid: string): Iterable<Engine> {
    return this.holders(this.swarmIds, sid);
  }

  withShortSwarmId(short: string): Iterable<Engine> {
    return this.holders(this.shortSwarmIds, short);
  }

  withGlobalId(globalId: string): Iterable<Engine> {
    return this.holders(this.globalIds, globalId);
  }
}
