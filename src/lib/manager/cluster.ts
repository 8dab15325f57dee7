/**
 * The cluster: one Engine per discovered address, the event bus the API streams from, pending
 * reservations for creates in flight, object lookups across engines, and the node snapshot the
 * scheduler works on.
 */
import { EventEmitter } from 'node:events';
import type { Discovery } from '../discovery/types';
import { sleep } from '../discovery/poll';
import type { ContainerConfig, HostConfig, NetworkResource, Volume } from '../engine/docker-types';
import { Engine, type CachedContainer, type DockerEvent, type EngineOptions } from '../engine/engine';
import { errorMessage } from '../errors';
import { log } from '../log';
import { clusterApiVersion } from '../engine/version';
import { containerCpus, SWARM_ID_LABEL } from '../scheduler/request';
import type { ContainerSnapshot, ImageSnapshot, NodeSnapshot, PortBinding } from '../scheduler/types';
import type { DrainState } from './drain';
import { DEFAULT_EVENT_LOG, EventLog, type EventLogOptions } from './event-log';
import { discoveryError } from '../metrics/metrics';

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

/** Primary names (`/web`) of a cached container, without link aliases (`/other/alias`). */
export function primaryNames(c: CachedContainer): string[] {
  return (c.summary?.Names ?? []).filter((n) => n.lastIndexOf('/') === 0).map((n) => n.slice(1));
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
  /** Reservations of creates in flight, per engine address. */
  readonly pending = new Map<string, ContainerSnapshot[]>();
  private stopper = new AbortController();

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
        });
      } catch (err) {
        log.error('Ignoring invalid discovery entry', { entry: addr, error: errorMessage(err) });
        continue;
      }
      this.engines.set(addr, engine);
      log.info('Engine added, validating', { addr });
      void engine.validate();
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
        if (e.state === 'pending' && e.health.pendingRetryDue(Date.now(), e.lastAttempt, this.opts.engine.refreshMinMs)) void e.validate();
      }
    }
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

  /** Validated engines (Healthy or Unhealthy): the ones whose caches are shown. */
  /** The API version advertised to clients: one every registered engine is spoken to (see engine/version). */
  apiVersion(): string {
    const versions: string[] = [];
    for (const e of this.engines.values()) if (e.state === 'healthy' || e.state === 'unhealthy') versions.push(e.apiVersion);
    return clusterApiVersion(versions);
  }

  registered(): Engine[] {
    return this.all().filter((e) => e.state === 'healthy' || e.state === 'unhealthy');
  }

  healthy(): Engine[] {
    return this.all().filter((e) => e.isHealthy());
  }

  engineByNode(ref: string): Engine | undefined {
    const list = this.registered();
    return list.find((e) => e.name === ref) ?? list.find((e) => e.id === ref || e.daemonId === ref) ?? list.find((e) => e.addr === ref);
  }

  snapshot(): NodeSnapshot[] {
    return this.registered().map((e) => ({
      id: e.id,
      name: e.name,
      addr: e.addr,
      ip: e.ip,
      labels: e.labels,
      totalCpus: e.rawCpus,
      totalMemory: e.rawMemory,
      healthIndicator: e.health.indicator(),
      drained: this.opts.drain?.isDrained(e.name, e.labels) ?? false,
      containers: this.nodeContainers(e),
      images: cachedImageSnapshots(e.images),
    }));
  }

  private nodeContainers(e: Engine): ContainerSnapshot[] {
    const out: ContainerSnapshot[] = [];
    for (const c of e.containers.values()) out.push(cachedContainerSnapshot(c, e.rawCpus));
    const pending = this.pending.get(e.addr);
    if (pending) out.push(...pending);
    return out;
  }

  addPending(addr: string, c: ContainerSnapshot): () => void {
    const list = this.pending.get(addr) ?? [];
    list.push(c);
    this.pending.set(addr, list);
    return () => {
      const l = this.pending.get(addr) ?? [];
      const i = l.indexOf(c);
      if (i >= 0) l.splice(i, 1);
    };
  }

  /** Whether a container name is taken anywhere in the cluster (including creates in flight). */
  nameTaken(name: string): boolean {
    const n = name.replace(/^\//, '');
    for (const e of this.registered()) {
      for (const c of e.containers.values()) if (cachedContainerSnapshot(c, e.rawCpus).names.includes(n)) return true;
    }
    for (const list of this.pending.values()) for (const c of list) if (c.names.includes(n)) return true;
    return false;
  }

  // ---- lookups ----------------------------------------------------------------------------------

  /**
   * Containers by full ID, swarm ID (`com.docker.swarm.id`, full or 12 characters), name, `/name`,
   * `<node>/<name>`, then unique ID prefix or swarm ID prefix (spec §3.1). A swarm ID stays with a
   * container that is rescheduled; while the failed node's stale copy is still known, the copy on a
   * healthy node (the newest) is the one meant.
   */
  findContainer(ref: string): FoundContainer | undefined {
    if (!ref) return undefined;
    const engines = this.registered();
    const every: FoundContainer[] = [];
    for (const engine of engines) for (const container of engine.containers.values()) every.push({ engine, container });
    const byId = every.find((f) => f.container.id === ref);
    if (byId) return byId;
    const bySwarmId = every.filter((f) => {
      const sid = swarmIdOf(f.container);
      return sid !== '' && (sid === ref || (ref.length === 12 && sid.startsWith(ref)));
    });
    if (bySwarmId.length) return liveCopy(bySwarmId);
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
    return new Set(swarmPrefix.map((f) => swarmIdOf(f.container))).size === 1 ? liveCopy(swarmPrefix) : undefined;
  }

  /** Which engine created an exec instance. */
  findExec(execId: string): Engine | undefined {
    const engines = this.registered();
    // Execs made through this manager, else any the engines reported in a container's ExecIDs.
    return engines.find((e) => e.execs.has(execId)) ?? engines.find((e) => [...e.containers.values()].some((c) => (c.inspect?.ExecIDs ?? []).includes(execId)));
  }

  /** Engines holding an image (by ID, ID prefix, repo:tag, repo digest). */
  enginesWithImage(ref: string): Engine[] {
    return this.registered().filter((e) => e.images.some((img) => imageMatches(img, ref)));
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

/** A container's `com.docker.swarm.id` ('' when it has none). */
export function swarmIdOf(c: CachedContainer): string {
  return c.summary?.Labels?.[SWARM_ID_LABEL] ?? c.inspect?.Config?.Labels?.[SWARM_ID_LABEL] ?? '';
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

/** `busybox` → `busybox:latest`; `docker.io/library/x` → `x`. */
export function normalizeImageRef(ref: string): string {
  let r = ref.replace(/^docker\.io\//, '').replace(/^index\.docker\.io\//, '').replace(/^library\//, '');
  if (r.includes('@')) return r;
  const lastSlash = r.lastIndexOf('/');
  if (!r.slice(lastSlash + 1).includes(':')) r += ':latest';
  return r;
}

export function imageMatches(img: { Id: string; RepoTags?: string[] | null; RepoDigests?: string[] | null }, ref: string): boolean {
  if (!ref) return false;
  const id = img.Id.replace(/^sha256:/, '');
  const r = ref.replace(/^sha256:/, '');
  if (id === r || (r.length >= 4 && /^[0-9a-f]+$/.test(r) && id.startsWith(r))) return true;
  const n = normalizeImageRef(ref);
  if ((img.RepoTags ?? []).some((t) => normalizeImageRef(t) === n)) return true;
  return (img.RepoDigests ?? []).some((d) => normalizeImageRef(d) === n || d === ref);
}
