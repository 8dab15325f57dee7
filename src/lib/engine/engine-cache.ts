/**
 * What the manager keeps of one engine: its containers (a ContainerIndex), images, networks, volumes
 * and the exec instances created through the manager, with the version that lets views derived from
 * the containers be cached. The Engine (engine.ts) fetches and hands what it read to the methods
 * below, the only places these change; everything else reads them through readonly views.
 *
 * Images, networks and volumes are replaced whole on each read, so their identity is their version
 * (the cluster's snapshots and locality views are cached by it); containers change one by one, so
 * they carry a counter.
 */
import { ContainerIndex, type IndexChange } from './container-index';
import type { ImageSummary, NetworkResource, Volume } from './docker-types';
import type { CachedContainer } from './engine';

/** The cached containers as readers see them: a read-only Map with the index's lookups. */
export type ContainerView = ReadonlyMap<string, CachedContainer> &
  Pick<ContainerIndex, 'named' | 'withSwarmId' | 'withShortSwarmId' | 'withIdPrefix' | 'swarmIdsWithPrefix' | 'copiesOf' | 'hasName'>;

/**
 * Exec instances remembered per engine at most; past it the oldest created is dropped. Its route is
 * then found from the ExecIDs of its container's inspect, when the cache has them.
 */
export const MAX_EXECS = 10_000;

/** How long a container re-read or removed on its own outranks a full list that began before. */
const ONE_BY_ONE_WINS_MS = 60_000;

export class EngineCache {
  private readonly index: ContainerIndex;
  private changes = 0;
  private imageList: readonly ImageSummary[] = [];
  private networkMap: ReadonlyMap<string, NetworkResource> = new Map();
  private volumeMap: ReadonlyMap<string, Volume> = new Map();
  /** Exec ID → the ID of its container, oldest first (a Map keeps insertion order). */
  private readonly execOwner = new Map<string, string>();
  /** Container ID → its exec IDs, so a container that goes takes its execs with it. */
  private readonly execsOf = new Map<string, Set<string>>();
  /** When each container was last re-read or removed one by one (so a slower full list does not undo it). */
  private readonly touchedAt = new Map<string, number>();
  private readonly removedAt = new Map<string, number>();

  constructor(
    onChange?: IndexChange,
    private readonly maxExecs = MAX_EXECS,
  ) {
    this.index = new ContainerIndex(onChange);
  }

  // ---- reads --------------------------------------------------------------------------------------

  get containers(): ContainerView {
    return this.index;
  }

  /** Bumped whenever the containers change, so views derived from them (info tallies) can be cached. */
  get containersVersion(): number {
    return this.changes;
  }

  get images(): readonly ImageSummary[] {
    return this.imageList;
  }

  /** By ID. */
  get networks(): ReadonlyMap<string, NetworkResource> {
    return this.networkMap;
  }

  /** By name. */
  get volumes(): ReadonlyMap<string, Volume> {
    return this.volumeMap;
  }

  /** Whether the exec instance was created through the manager on this engine (and is still kept). */
  hasExec(execId: string): boolean {
    return this.execOwner.has(execId);
  }

  get execCount(): number {
    return this.execOwner.size;
  }

  /** Whether a full list that began at `listStarted` must leave `id` out (it was removed since). */
  removedSince(id: string, listStarted: number): boolean {
    return (this.removedAt.get(id) ?? 0) >= listStarted;
  }

  // ---- changes ------------------------------------------------------------------------------------

  /** A container read (or changed) on its own: in the cache at once, and newer than any list in flight. */
  containerRead(c: CachedContainer): void {
    this.index.set(c.id, c);
    this.changes++;
    this.touchedAt.set(c.id, Date.now());
  }

  /** Puts a container back as it was (a reschedule that failed after dropping it). */
  restoreContainer(c: CachedContainer): void {
    this.index.set(c.id, c);
    this.changes++;
  }

  /** A container is gone (destroy event, removal through the API, a 404): it and its execs leave. */
  forgetContainer(id: string): void {
    if (this.drop(id)) this.changes++;
    this.removedAt.set(id, Date.now());
  }

  /**
   * A full list read that began at `started`, as `next` (by ID): the cache is updated in place (its
   * indexes follow each change). Containers re-read one by one while the list was in flight are
   * newer than the list: they stay as they are.
   */
  applyList(next: ReadonlyMap<string, CachedContainer>, started: number): void {
    const newer = (id: string) => (this.touchedAt.get(id) ?? 0) >= started;
    for (const id of [...this.index.keys()]) if (!next.has(id) && !newer(id)) this.drop(id);
    for (const [id, c] of next) if (!newer(id)) this.index.set(id, c);
    for (const [id, t] of this.removedAt) if (t < started - ONE_BY_ONE_WINS_MS) this.removedAt.delete(id);
    for (const [id, t] of this.touchedAt) if (t < started - ONE_BY_ONE_WINS_MS) this.touchedAt.delete(id);
    this.changes++;
  }

  /** Drops every cached container at once, leaving no trace (an engine being discarded). */
  dropContainers(): void {
    this.index.clear();
    this.execOwner.clear();
    this.execsOf.clear();
    this.touchedAt.clear();
    this.removedAt.clear();
    this.changes++;
  }

  setImages(list: readonly ImageSummary[]): void {
    this.imageList = list;
  }

  setNetworks(list: readonly NetworkResource[]): void {
    this.networkMap = new Map(list.map((n) => [n.Id, n]));
  }

  setVolumes(list: readonly Volume[]): void {
    this.volumeMap = new Map(list.map((v) => [v.Name, v]));
  }

  /** An exec instance was created in `containerId` through the manager (exec start and inspect are routed by it). */
  execCreated(execId: string, containerId: string): void {
    if (this.execOwner.has(execId)) this.dropExec(execId);
    this.execOwner.set(execId, containerId);
    let mine = this.execsOf.get(containerId);
    if (!mine) this.execsOf.set(containerId, (mine = new Set()));
    mine.add(execId);
    while (this.execOwner.size > this.maxExecs) this.dropExec(this.execOwner.keys().next().value!);
  }

  private dropExec(execId: string): void {
    const owner = this.execOwner.get(execId);
    if (owner === undefined) return;
    this.execOwner.delete(execId);
    const mine = this.execsOf.get(owner);
    mine?.delete(execId);
    if (mine?.size === 0) this.execsOf.delete(owner);
  }

  private drop(id: string): boolean {
    const execs = this.execsOf.get(id);
    if (execs) {
      for (const e of execs) this.execOwner.delete(e);
      this.execsOf.delete(id);
    }
    return this.index.delete(id);
  }
}
