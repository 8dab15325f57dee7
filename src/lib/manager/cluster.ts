/**
 * The cluster: one Engine per discovered address, the event bus the API streams from, object lookups
 * across engines, and the node snapshot the scheduler works on (the reservations of creates in flight
 * are the Placer's: manager/scheduling.ts).
 */
import { EventEmitter } from 'node:events';
import type { Discovery } from '../discovery/types';
import { sleep } from '../discovery/poll';
import type { ContainerConfig, HostConfig, NetworkResource, Volume } from '../engine/docker-types';
import { Engine, type CachedContainer, type DockerEvent, type EngineOptions } from '../engine/engine';
import { ContainerIndex, primaryNames, swarmIdOf } from '../engine/container-index';
import type { ContainerView } from '../engine/engine-cache';
import { errorMessage } from '../errors';
import { engineStateChanges } from '../engine/health';
import { log } from '../log';
import { clusterApiVersion } from '../engine/version';
import { imagesRank, isNodeRef, lookupContainer, SHORT_ID_LENGTH, type ContainerKeys } from '../scheduler/reference';
import { containerCpus } from '../scheduler/resources';
import type { ContainerSnapshot, ImageSnapshot, NodeSnapshot, PortBinding } from '../scheduler/types';
import type { DrainState } from './drain';
import { DEFAULT_EVENT_LOG, EventLog, type EventLogOptions } from './event-log';
import { discoveryError } from '../metrics/metrics';
import { ValidationQueue } from './validation-queue';
import { ClusterIndex } from './cluster-index';

export interface ClusterOptions {
  engine: EngineOptions;
  strategy: string;
  filters: string[];
  overcommit: number;
  createRetry: number;
  /** --cluster-opt swarm.pull-on-create=true: a create pulls a missing image on the engine (v1). */
  pullOnCreate?: boolean;
  /** Beyond v1: node availability (drain), see drain.ts; absent = every node active. */
  drain?: DrainState;
  /** --events-history, --events-max-age: the history `docker events --since` replays. */
  events?: EventLogOptions;
}

export interface FoundContainer {
  engine: Engine;
  container: CachedContainer;
}

/** Event as the API streams it: the engine's event plus node information (spec §3.5). */
export type ClusterEvent = DockerEvent & { node?: { Name: string; Id: string; Addr: string; Ip: string } };

export { primaryNames, swarmIdOf };

/** The engine's container index (a plain Map, as test doubles hold, is indexed on the fly). */
function indexOf(e: Engine): ContainerView {
  if (e.containers instanceof ContainerIndex) return e.containers;
  const index = new ContainerIndex();
  for (const [id, c] of e.containers) index.set(id, c);
  return index;
}

// Engines replace a CachedContainer (and their image list) whenever it changes, so snapshots can be
// cached by object identity: a create on a 30,000-container cluster then copies no container twice.
const containerSnapshots = new WeakMap<CachedContainer, { cpus: number; snapshot: ContainerSnapshot }>();
const imageSnapshots = new WeakMap<object, ImageSnapshot[]>();

function cachedContainerSnapshot(c: CachedContainer, engineCpus: number): ContainerSnapshot {
  const hit = containerSnapshots.get(c);
  if (hit && hit.cpus === engineCpus) return hit.snapshot;
  const snapshot = snapshotContainer(c, engineCpus);
  containerSnapshots.set(c, { cpus: engineCpus, snapshot });
  return snapshot;
}

function cachedImageSnapshots(images: Engine['images']): ImageSnapshot[] {
  let hit = imageSnapshots.get(images);
  if (!hit) {
    hit = images.map((i) => ({ id: i.Id, repoTags: i.RepoTags ?? [], repoDigests: i.RepoDigests ?? [] }));
    imageSnapshots.set(images, hit);
  }
  return hit;
}

export function snapshotContainer(c: CachedContainer, engineCpus: number): ContainerSnapshot {
  const hc: HostConfig = c.inspect?.HostConfig ?? c.summary?.HostConfig ?? {};
  const cfg: ContainerConfig = c.inspect?.Config ?? {};
  const bindings: PortBinding[] = [];
  for (const [port, list] of Object.entries(hc.PortBindings ?? {})) {
    for (const b of list ?? []) bindings.push({ containerPort: port, hostIp: b.HostIp ?? '', hostPort: b.HostPort ?? '' });
  }
  return {
    id: c.id,
    names: primaryNames(c),
    image: c.summary?.Image ?? cfg.Image ?? '',
    state: c.summary?.State ?? c.inspect?.State?.Status ?? '',
    labels: c.summary?.Labels ?? cfg.Labels ?? {},
    cpus: containerCpus(hc, engineCpus),
    memory: hc.Memory ?? 0,
    portBindings: bindings,
    networkMode: hc.NetworkMode ?? 'default',
    exposedPorts: Object.keys(cfg.ExposedPorts ?? {}),
  };
}

export class Cluster {
  readonly engines = new Map<string, Engine>();
  readonly bus = new EventEmitter();
  /** Every event published on the bus, in time order, for `docker events --since`. */
  readonly events: EventLog<ClusterEvent>;
  /** Which engines hold which container keys (cluster-index.ts), fed by the engines this cluster made. */
  private readonly index = new ClusterIndex();
  /** Engines this cluster made (their indexes report to `index`), with their order of addition. */
  private readonly made = new WeakMap<Engine, number>();
  private madeCount = 0;
  private nextOrdinal = 0;
  private stopper = new AbortController();
  /** Validations in flight at most at once; one slower than 2 s no longer counts (validation-queue.ts). */
  private readonly validations = new ValidationQueue(48, 2000);

  constructor(readonly opts: ClusterOptions) {
    this.bus.setMaxListeners(0);
    this.events = new EventLog<ClusterEvent>(opts.events ?? DEFAULT_EVENT_LOG);
  }

  // ---- membership -------------------------------------------------------------------------------

  /** Applies a full entry set from discovery: new addresses become Pending engines, vanished ones Disconnected. */
  setEntries(entries: string[]): void {
    const wanted = new Set(entries);
    for (const [addr, engine] of this.engines) {
      if (wanted.has(addr)) continue;
      this.engines.delete(addr);
      this.membership++;
      if (this.made.has(engine)) {
        this.madeCount--;
        for (const c of engine.containers.values()) this.index.change(engine, c, undefined);
      }
      const t = engine.stop();
      log.info('Engine left discovery, removed', { name: engine.name || '(unknown)', addr });
      if (t || engine.id) this.emitSwarm('engine_disconnect', engine);
    }
    for (const addr of entries) {
      if (this.engines.has(addr)) continue;
      let engine: Engine;
      try {
        engine = new Engine(addr, this.opts.engine, {
          onTransition: (e, t) => this.onTransition(e, t),
          onEvent: (e, ev) => this.publish(this.decorate(e, ev)),
          engineWithId: (id, self) => [...this.engines.values()].find((o) => o !== self && o.id === id && o.state !== 'pending'),
          onContainerChange: (e, was, now) => {
            if (this.engines.get(e.addr) === e) this.index.change(e, was, now);
          },
        });
      } catch (err) {
        log.error('Ignoring invalid discovery entry', { entry: addr, error: errorMessage(err) });
        continue;
      }
      this.engines.set(addr, engine);
      this.membership++;
      this.made.set(engine, this.nextOrdinal++);
      this.madeCount++;
      log.info('Engine added, validating', { addr });
      this.validate(engine);
    }
  }

  private onTransition(engine: Engine, t: 'connect' | 'disconnect' | 'reconnect'): void {
    if (t === 'connect') {
      log.info('Engine is healthy', { name: engine.name, addr: engine.addr, id: engine.id, containers: engine.containers.size });
      this.emitSwarm('engine_connect', engine);
    } else if (t === 'reconnect') {
      log.info('Engine came back to life. Hooray!', { name: engine.name, addr: engine.addr });
      this.emitSwarm('engine_reconnect', engine);
    } else {
      log.warn(`Flagging engine as unhealthy. Connect failed ${engine.health.failureCount} times`, { name: engine.name, addr: engine.addr, error: engine.health.lastError });
      this.emitSwarm('engine_disconnect', engine);
    }
  }

  /** Follows discovery until stopped; also retries Pending engines with back-off. */
  async watch(discovery: Discovery, signal: AbortSignal): Promise<void> {
    const both = AbortSignal.any([signal, this.stopper.signal]);
    void this.pendingLoop(both);
    for await (const ev of discovery.watch(both)) {
      if (ev.kind === 'error') discoveryError();
      if (ev.kind === 'error') log.error('Discovery error', { discovery: discovery.description, error: errorMessage(ev.error) });
      else this.setEntries(ev.entries);
    }
  }

  private async pendingLoop(signal: AbortSignal): Promise<void> {
    const period = Math.min(10_000, this.opts.engine.refreshMinMs);
    while (!signal.aborted) {
      await sleep(period, signal);
      for (const e of this.engines.values()) {
        if (e.state === 'pending' && e.health.pendingRetryDue(Date.now(), e.lastAttempt, this.opts.engine.refreshMinMs)) this.validate(e);
      }
    }
  }

  /** Queues a validation; by its turn the engine may have been validated already (or removed). */
  private validate(engine: Engine): void {
    this.validations.run(async () => {
      if (engine.state === 'pending' && this.engines.get(engine.addr) === engine) await engine.validate();
    });
  }

  stop(): void {
    this.stopper.abort();
    for (const e of this.engines.values()) e.stop();
  }

  // ---- events -----------------------------------------------------------------------------------

  nodeInfo(engine: Engine) {
    return { Name: engine.name, Id: engine.id, Addr: engine.addr, Ip: engine.ip };
  }

  decorate(engine: Engine, ev: DockerEvent): ClusterEvent {
    const out: ClusterEvent = { ...ev };
    if (typeof ev.from === 'string') out.from = `${ev.from} node:${engine.name}`;
    out.Actor = {
      ...(ev.Actor ?? {}),
      Attributes: {
        ...(ev.Actor?.Attributes ?? {}),
        'node.name': engine.name,
        'node.id': engine.id,
        'node.addr': engine.addr,
        'node.ip': engine.ip,
      },
    };
    out.node = this.nodeInfo(engine);
    return out;
  }

  /** Keeps an event in the history and streams it to the listeners (an event held already is neither). */
  publish(ev: ClusterEvent): void {
    if (this.events.append(ev) === 'duplicate') return;
    this.bus.emit('event', ev);
  }

  emitSwarm(action: string, engine: Engine): void {
    const now = Date.now();
    // With the Engine itself (gone from `engines` after a discovery removal): the rescheduler's feed.
    this.bus.emit('swarm', action, engine);
    this.publish(
      this.decorate(engine, {
        status: action,
        from: 'swarm',
        Type: 'swarm',
        Action: action,
        Actor: { ID: engine.id, Attributes: {} },
        time: Math.floor(now / 1000),
        timeNano: now * 1e6,
      }),
    );
  }

  // ---- views ------------------------------------------------------------------------------------

  all(): Engine[] {
    return [...this.engines.values()];
  }

  /**
   * The registered and healthy engines and the advertised API version, asked several times per request:
   * worked out again only when an engine changed state (an engine's API version is negotiated as it
   * turns Healthy) or the set of engines changed, not per call (5,000 engines: ~1 ms a walk).
   */
  private states: { key: string; registered: Engine[]; healthy: Engine[]; apiVersion?: string } | undefined;
  private membership = 0;

  private engineStates(): { registered: Engine[]; healthy: Engine[]; apiVersion?: string } {
    // The map's size too: engines put in by hand (test doubles) count as a change of the set.
    const key = `${engineStateChanges()}|${this.membership}|${this.engines.size}`;
    if (this.states?.key === key) return this.states;
    const registered: Engine[] = [];
    const healthy: Engine[] = [];
    for (const e of this.engines.values()) {
      const s = e.state;
      if (s !== 'healthy' && s !== 'unhealthy') continue;
      registered.push(e);
      if (s === 'healthy') healthy.push(e);
    }
    this.states = { key, registered, healthy };
    return this.states;
  }

  /** The API version advertised to clients: one every registered engine is spoken to (see engine/version). */
  apiVersion(): string {
    const states = this.engineStates();
    // The few distinct versions are compared, not one per engine.
    states.apiVersion ??= clusterApiVersion(new Set(states.registered.map((e) => e.apiVersion)));
    return states.apiVersion;
  }

  /** Validated engines (Healthy or Unhealthy): the ones whose caches are shown (a copy: callers may sort it). */
  registered(): Engine[] {
    return this.engineStates().registered.slice();
  }

  healthy(): Engine[] {
    return this.engineStates().healthy.slice();
  }

  engineByNode(ref: string): Engine | undefined {
    const list = this.registered();
    return list.find((e) => e.name === ref) ?? list.find((e) => e.id === ref || e.daemonId === ref) ?? list.find((e) => e.addr === ref);
  }

  /** Each engine's last node snapshot: handed out again while nothing in it changed. */
  private readonly nodeSnapshotOf = new WeakMap<Engine, NodeSnapshot>();

  snapshot(): NodeSnapshot[] {
    return this.registered().map((e) => {
      const containers = this.nodeContainers(e);
      const images = cachedImageSnapshots(e.images);
      const healthIndicator = e.health.indicator();
      const drained = this.opts.drain?.isDrained(e.name, e.labels) ?? false;
      const s = this.nodeSnapshotOf.get(e);
      if (
        s &&
        s.containers === containers &&
        s.images === images &&
        s.healthIndicator === healthIndicator &&
        s.drained === drained &&
        s.labels === e.labels &&
        s.id === e.id &&
        s.name === e.name &&
        s.ip === e.ip &&
        s.totalCpus === e.rawCpus &&
        s.totalMemory === e.rawMemory
      ) {
        return s;
      }
      const next: NodeSnapshot = { id: e.id, name: e.name, addr: e.addr, ip: e.ip, labels: e.labels, totalCpus: e.rawCpus, totalMemory: e.rawMemory, healthIndicator, drained, containers, images };
      this.nodeSnapshotOf.set(e, next);
      return next;
    });
  }

  /** Each engine's container snapshots, rebuilt when its cache changed (containersVersion). */
  private readonly nodeSnapshots = new WeakMap<Engine, { version: number; cpus: number; containers: ContainerSnapshot[] }>();

  private nodeContainers(e: Engine): ContainerSnapshot[] {
    let hit = this.nodeSnapshots.get(e);
    if (!hit || hit.version !== e.containersVersion || hit.cpus !== e.rawCpus || typeof e.containersVersion !== 'number') {
      const containers: ContainerSnapshot[] = [];
      for (const c of e.containers.values()) containers.push(cachedContainerSnapshot(c, e.rawCpus));
      hit = { version: e.containersVersion, cpus: e.rawCpus, containers };
      this.nodeSnapshots.set(e, hit);
    }
    return hit.containers;
  }

  /** Whether a registered engine holds a container of that name (creates in flight: Placer.nameTaken). */
  nameTaken(name: string): boolean {
    const n = name.replace(/^\//, '');
    return this.enginesFor(this.index.named(n)).some((e) => indexOf(e).hasName(n));
  }

  // ---- lookups ----------------------------------------------------------------------------------

  /** Whether every engine is one this cluster made, so that the cluster index knows them all. */
  private indexed(): boolean {
    return this.madeCount > 0 && this.madeCount === this.engines.size;
  }

  /** Of the engines the cluster index names, the registered ones, in the order they were added. */
  private holding(engines: Iterable<Engine>): Engine[] {
    const out: Engine[] = [];
    for (const e of engines) {
      const s = e.state;
      if ((s === 'healthy' || s === 'unhealthy') && this.engines.get(e.addr) === e) out.push(e);
    }
    if (out.length > 1) out.sort((a, b) => this.made.get(a)! - this.made.get(b)!);
    return out;
  }

  /**
   * The engines to ask for a key: those the cluster index names as holding it (when it knows every
   * engine and the key narrows: `undefined` does not), else every registered engine, in order.
   */
  private enginesFor(holders: Iterable<Engine> | undefined): Engine[] {
    return holders !== undefined && this.indexed() ? this.holding(holders) : this.registered();
  }

  /** The container lookup's keys over the engines' indexes (see reference.ts ContainerKeys). */
  private containerKeys(): ContainerKeys<FoundContainer> {
    const indexes = new Map<Engine, ContainerView>();
    const ix = (e: Engine) => {
      let i = indexes.get(e);
      if (!i) indexes.set(e, (i = indexOf(e)));
      return i;
    };
    const collect = (engines: Engine[], pick: (i: ContainerView) => readonly CachedContainer[], enough = Infinity) => {
      const out: FoundContainer[] = [];
      for (const engine of engines) {
        for (const container of pick(ix(engine))) out.push({ engine, container });
        if (out.length >= enough) break;
      }
      return out;
    };
    // A prefix of 12 characters or more is asked of the engines holding its first 12.
    const byShort = (prefix: string, holders: (short: string) => Iterable<Engine>) => (prefix.length >= SHORT_ID_LENGTH ? holders(prefix.slice(0, SHORT_ID_LENGTH)) : undefined);
    return {
      withId: (id) => {
        for (const engine of this.enginesFor(this.index.withId(id))) {
          const container = ix(engine).get(id);
          if (container) return { engine, container };
        }
        return undefined;
      },
      withIdPrefix: (prefix) => collect(this.enginesFor(byShort(prefix, (s) => this.index.withShortId(s))), (i) => i.withIdPrefix(prefix), 2),
      withSwarmId: (sid) => collect(this.enginesFor(this.index.withSwarmId(sid)), (i) => i.withSwarmId(sid)),
      withShortSwarmId: (short) => collect(this.enginesFor(this.index.withShortSwarmId(short)), (i) => i.withShortSwarmId(short)),
      named: (name) => collect(this.enginesFor(this.index.named(name)), (i) => i.named(name)),
      namedOnNode: (node, name) => collect(this.enginesFor(this.index.named(name)).filter((e) => isNodeRef(e, node)), (i) => i.named(name)),
      swarmIdsWithPrefix: (prefix) => {
        const sids = new Set<string>();
        for (const engine of this.enginesFor(byShort(prefix, (s) => this.index.withShortSwarmId(s)))) for (const sid of ix(engine).swarmIdsWithPrefix(prefix)) sids.add(sid);
        return sids;
      },
      liveCopy,
    };
  }

  /**
   * The container `ref` names (reference.ts lookupContainer, spec §3.1). A swarm ID stays with a
   * container that is rescheduled; while the failed node's stale copy is still known, the copy on a
   * healthy node (the newest) is the one meant.
   */
  findContainer(ref: string): FoundContainer | undefined {
    return lookupContainer(this.containerKeys(), ref);
  }

  /** Containers whose primary name is `name`, engine by engine (indexed). */
  containersNamed(name: string): FoundContainer[] {
    const out: FoundContainer[] = [];
    for (const engine of this.enginesFor(this.index.named(name))) for (const container of indexOf(engine).named(name)) out.push({ engine, container });
    return out;
  }

  /** The copies of a global container, engine by engine (indexed). */
  globalCopies(globalId: string): FoundContainer[] {
    const out: FoundContainer[] = [];
    if (!globalId) return out;
    for (const engine of this.enginesFor(this.index.withGlobalId(globalId))) for (const container of indexOf(engine).copiesOf(globalId)) out.push({ engine, container });
    return out;
  }

  /** Which engine created an exec instance. */
  findExec(execId: string): Engine | undefined {
    const engines = this.registered();
    // Execs made through this manager, else any the engines reported in a container's ExecIDs.
    return engines.find((e) => e.hasExec(execId)) ?? engines.find((e) => [...e.containers.values()].some((c) => (c.inspect?.ExecIDs ?? []).includes(execId)));
  }

  /**
   * Engines holding an image `ref` names (reference.ts imageMatch), those holding it as the engine
   * reads the reference (ID, tag, `:latest`, digest) before those holding another tag of its repository.
   */
  enginesWithImage(ref: string): Engine[] {
    const found: { engine: Engine; rank: number }[] = [];
    for (const engine of this.registered()) {
      const rank = imagesRank(engine.images, ref);
      if (rank !== undefined) found.push({ engine, rank });
    }
    return found.sort((a, b) => a.rank - b.rank).map((f) => f.engine);
  }

  /** Networks by ID, name, `<node>/<name>`, unique ID prefix. */
  findNetworks(ref: string): { engine: Engine; network: NetworkResource }[] {
    const all: { engine: Engine; network: NetworkResource }[] = [];
    for (const engine of this.registered()) for (const network of engine.networks.values()) all.push({ engine, network });
    const exact = all.filter((f) => f.network.Id === ref);
    if (exact.length) return exact;
    const slash = ref.indexOf('/');
    if (slash > 0) {
      const node = ref.slice(0, slash);
      const name = ref.slice(slash + 1);
      const hits = all.filter((f) => (f.engine.name === node || f.engine.id === node) && (f.network.Name === name || f.network.Id === name || f.network.Id.startsWith(name)));
      if (hits.length) return hits;
    }
    const byName = all.filter((f) => f.network.Name === ref);
    if (byName.length) return byName;
    const prefix = all.filter((f) => f.network.Id.startsWith(ref));
    const ids = new Set(prefix.map((f) => f.network.Id));
    return ids.size === 1 ? prefix : [];
  }

  /** Volumes by name or `<node>/<name>`. */
  findVolumes(ref: string): { engine: Engine; volume: Volume }[] {
    const all: { engine: Engine; volume: Volume }[] = [];
    for (const engine of this.registered()) for (const volume of engine.volumes.values()) all.push({ engine, volume });
    const byName = all.filter((f) => f.volume.Name === ref);
    if (byName.length) return byName;
    const slash = ref.indexOf('/');
    if (slash > 0) {
      const node = ref.slice(0, slash);
      const name = ref.slice(slash + 1);
      return all.filter((f) => (f.engine.name === node || f.engine.id === node) && f.volume.Name === name);
    }
    return [];
  }
}

/** Of the copies of one swarm ID: the one on a healthy node, the newest. */
function liveCopy(copies: FoundContainer[]): FoundContainer {
  const rank = (f: FoundContainer) => [f.engine.isHealthy() ? 1 : 0, f.container.summary?.Created ?? 0] as const;
  return copies.reduce((best, f) => {
    const [h, t] = rank(f);
    const [bh, bt] = rank(best);
    return h > bh || (h === bh && t > bt) ? f : best;
  });
}
