/**
 * One engine's cached containers by ID (a Map), with the lookups the API makes on every request
 * indexed beside it: primary name, swarm ID (`com.docker.swarm.id`, also by its 12-character
 * prefix), and ID and swarm ID prefixes (sorted lists, rebuilt when the set of containers changed).
 * The indexes follow every set/delete, so a lookup costs a hash probe or a binary search, never a
 * scan. Index sets keep the Map's order (a container set again keeps its place), so lookups that
 * return several containers return them in the order a scan of the Map would.
 */
import { globalIdOf } from '../scheduler/global';
import { SWARM_ID_LABEL } from '../scheduler/request';
import type { CachedContainer } from './engine';

/** Primary names (`/web` → `web`) of a cached container, without link aliases (`/other/alias`). */
export function primaryNames(c: CachedContainer): string[] {
  const out: string[] = [];
  for (const n of c.summary?.Names ?? []) if (n.lastIndexOf('/') === 0) out.push(n.slice(1));
  return out;
}

/** The global container a container is a copy of ('' for none), from the labels the engine reported. */
export function globalCopyOf(c: CachedContainer): string {
  const labels: unknown = c.inspect?.Config?.Labels ?? c.summary?.Labels;
  return typeof labels === 'object' && labels !== null && !Array.isArray(labels) ? globalIdOf(labels as Record<string, string>) : '';
}

/** A container's `com.docker.swarm.id` ('' when it has none). */
export function swarmIdOf(c: CachedContainer): string {
  return c.summary?.Labels?.[SWARM_ID_LABEL] ?? c.inspect?.Config?.Labels?.[SWARM_ID_LABEL] ?? '';
}

/** Keys with one container (nearly all of them) hold its ID alone; a Set only when several share one. */
type Ids = string | Set<string>;

function add(index: Map<string, Ids>, key: string, id: string): void {
  const had = index.get(key);
  if (had === undefined) index.set(key, id);
  else if (typeof had === 'string') {
    if (had !== id) index.set(key, new Set([had, id]));
  } else had.add(id);
}

function remove(index: Map<string, Ids>, key: string, id: string): void {
  const had = index.get(key);
  if (had === undefined) return;
  if (typeof had === 'string') {
    if (had === id) index.delete(key);
    return;
  }
  had.delete(id);
  if (had.size === 1) index.set(key, had.values().next().value!);
}

/** The entries of `sorted` that start with `prefix` (binary search for the first one). */
function withPrefix(sorted: readonly string[], prefix: string): string[] {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < prefix) lo = mid + 1;
    else hi = mid;
  }
  const out: string[] = [];
  for (let i = lo; i < sorted.length && sorted[i]!.startsWith(prefix); i++) out.push(sorted[i]!);
  return out;
}

/** What a lookup that finds nothing answers: one shared empty list (lookups run per request and engine). */
const NONE: CachedContainer[] = Object.freeze([]) as unknown as CachedContainer[];

/** Told of every change: a container `was` (absent: added) is `now` (absent: removed). */
export type IndexChange = (was: CachedContainer | undefined, now: CachedContainer | undefined) => void;

export class ContainerIndex extends Map<string, CachedContainer> {
  private readonly names = new Map<string, Ids>();
  private readonly swarmIds = new Map<string, Ids>();
  /** Swarm IDs by their first 12 characters (`docker ps` shows them so). */
  private readonly shortSwarmIds = new Map<string, Ids>();
  /** Copies of global containers by global ID. */
  private readonly globalIds = new Map<string, Ids>();
  private sortedIds: string[] | undefined;
  private sortedSwarmIds: string[] | undefined;

  constructor(private readonly onChange?: IndexChange) {
    super();
  }

  override set(id: string, c: CachedContainer): this {
    const old = super.get(id);
    super.set(id, c);
    // Fields initialise after Map's constructor has run; nothing is set before then.
    if (!this.names) return this;
    if (old !== c) this.onChange?.(old, c);
    if (!old) {
      this.addKeys(c, id);
      return this;
    }
    if (old === c) return this;
    const was = primaryNames(old);
    const now = primaryNames(c);
    if (was.length !== now.length || was.some((n, i) => n !== now[i])) {
      for (const n of was) remove(this.names, n, id);
      for (const n of now) add(this.names, n, id);
    }
    const sidWas = swarmIdOf(old);
    const sidNow = swarmIdOf(c);
    if (sidWas !== sidNow) {
      this.removeSwarmId(sidWas, id);
      this.addSwarmId(sidNow, id);
    }
    const gidWas = globalCopyOf(old);
    const gidNow = globalCopyOf(c);
    if (gidWas !== gidNow) {
      if (gidWas) remove(this.globalIds, gidWas, id);
      if (gidNow) add(this.globalIds, gidNow, id);
    }
    return this;
  }

  override delete(id: string): boolean {
    const old = super.get(id);
    if (!old) return false;
    super.delete(id);
    this.onChange?.(old, undefined);
    this.removeKeys(old, id);
    return true;
  }

  /** Indexes a container new to the map under every key it has. */
  private addKeys(c: CachedContainer, id: string): void {
    this.sortedIds = undefined;
    for (const n of primaryNames(c)) add(this.names, n, id);
    this.addSwarmId(swarmIdOf(c), id);
    const gid = globalCopyOf(c);
    if (gid) add(this.globalIds, gid, id);
  }

  /** Drops a container that left the map from every key it had. */
  private removeKeys(c: CachedContainer, id: string): void {
    this.sortedIds = undefined;
    for (const n of primaryNames(c)) remove(this.names, n, id);
    this.removeSwarmId(swarmIdOf(c), id);
    const gid = globalCopyOf(c);
    if (gid) remove(this.globalIds, gid, id);
  }

  override clear(): void {
    if (this.onChange) for (const c of this.values()) this.onChange(c, undefined);
    super.clear();
    this.names.clear();
    this.swarmIds.clear();
    this.shortSwarmIds.clear();
    this.globalIds.clear();
    this.sortedIds = undefined;
    this.sortedSwarmIds = undefined;
  }

  private addSwarmId(sid: string, id: string): void {
    if (!sid) return;
    if (!this.swarmIds.has(sid)) this.sortedSwarmIds = undefined;
    add(this.swarmIds, sid, id);
    add(this.shortSwarmIds, sid.slice(0, 12), id);
  }

  private removeSwarmId(sid: string, id: string): void {
    if (!sid) return;
    remove(this.swarmIds, sid, id);
    remove(this.shortSwarmIds, sid.slice(0, 12), id);
    if (!this.swarmIds.has(sid)) this.sortedSwarmIds = undefined;
  }

  private pick(ids: Ids | readonly string[] | undefined): CachedContainer[] {
    if (ids === undefined) return NONE;
    if (typeof ids === 'string') return [super.get(ids)!];
    const out: CachedContainer[] = [];
    for (const id of ids) out.push(super.get(id)!);
    return out;
  }

  /** Containers whose primary name is `name` (without the leading `/`). */
  named(name: string): CachedContainer[] {
    return this.pick(this.names.get(name));
  }

  /** Containers whose swarm ID is `sid`. */
  withSwarmId(sid: string): CachedContainer[] {
    return this.pick(this.swarmIds.get(sid));
  }

  /** Containers whose swarm ID starts with these 12 characters (or is them). */
  withShortSwarmId(short: string): CachedContainer[] {
    return this.pick(this.shortSwarmIds.get(short));
  }

  /** Containers whose ID starts with `prefix`. */
  withIdPrefix(prefix: string): CachedContainer[] {
    this.sortedIds ??= [...this.keys()].sort();
    return this.pick(withPrefix(this.sortedIds, prefix));
  }

  /** The distinct swarm IDs that start with `prefix`. */
  swarmIdsWithPrefix(prefix: string): string[] {
    this.sortedSwarmIds ??= [...this.swarmIds.keys()].sort();
    return withPrefix(this.sortedSwarmIds, prefix);
  }

  /** The copies of the global container `globalId`. */
  copiesOf(globalId: string): CachedContainer[] {
    return this.pick(this.globalIds.get(globalId));
  }

  /** Whether any container has the primary name `name`. */
  hasName(name: string): boolean {
    return this.names.has(name);
  }
}
