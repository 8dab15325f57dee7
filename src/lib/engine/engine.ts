/**
 * One Docker engine of the cluster, as what it fetches: validation, the refresh loop with back-off,
 * and the /events stream that keeps the cache fresh. What it caches is an EngineCache
 * (engine-cache.ts), changed only through the named methods here; its health is the pure
 * EngineHealth (health.ts). Others read the engine through getters and readonly views.
 */
import { lookup } from 'node:dns/promises';
import type http from 'node:http';
import { sleep } from '../discovery/poll';
import { errorMessage } from '../errors';
import { log } from '../log';
import { EngineHealth, isConnectionError, noteEngineStateChange, STATE_LABEL, type HealthTransition } from './health';
import type Docker from 'dockerode';
import { call, callJson, EngineHttpError, engineDocker, openRequest, releaseAgent, REQUEST_TIMEOUT_MS, targetOf, TransportError, transportError, viaDockerode, type CallOptions, type EngineTarget, type RawResponse } from './http';
import type { ContainerInspect, ContainerSummary, DockerEvent, EngineInfo, EngineVersion, ImageSummary, NetworkResource, Volume, VolumeListResponse } from './docker-types';
import { DEFAULT_MAX_OBJECT_BYTES, JsonStreamParser } from './jsonstream';
import { EventCursor, eventNano } from './event-cursor';
import { engineCallError, eventCaughtUp, eventDuplicate, eventStreamReconnect } from '../metrics/metrics';
import { containerInspectProblem, containerSummaryProblem, imageProblem, networkProblem, usableRecords, volumeProblem } from './validate';
import { cacheEntry, healthEntry, internSummary, pausedEntry, renamedEntry, startedEntry, startNeedsEngine } from './cache-entry';
import { EngineCache, type ContainerView } from './engine-cache';
import type { EngineTls } from '../tls';
import { MIN_API_VERSION, negotiateApiVersion } from './version';
// The scheduler's rule, so `docker info` and placement agree on capacity (v1's integer percent).
import { withOvercommit } from '../scheduler/resources';

export interface EngineOptions {
  refreshMinMs: number;
  refreshMaxMs: number;
  failureRetry: number;
  /** swarm.overcommit: fraction added to CPUs and memory. */
  overcommit: number;
  /** Timeout of buffered calls. */
  timeoutMs?: number;
  /** --tls/--tlsverify: talk TLS to the engine with the manager's certificate. */
  tls?: EngineTls;
}

export interface EngineHooks {
  /** A health transition happened (connect, disconnect, reconnect). */
  onTransition(engine: Engine, t: Exclude<HealthTransition, null>): void;
  /** An engine event, after the cache was updated. */
  onEvent(engine: Engine, event: DockerEvent): void;
  /** Another registered engine already using `id`, if any. */
  engineWithId(id: string, self: Engine): Engine | undefined;
  /** A cached container was added, replaced or dropped (for the cluster's own indexes). */
  onContainerChange?(engine: Engine, was: CachedContainer | undefined, now: CachedContainer | undefined): void;
}

export type { DockerEvent } from './docker-types';

export interface CachedContainer {
  id: string;
  /** The engine's /containers/json entry (or, for a container read alone, the one its inspect implies). */
  summary: ContainerSummary;
  /** What the manager reads of the engine's inspect (see compactInspect in cache-entry.ts). */
  inspect?: ContainerInspect;
}

const IGNORED_CONTAINER_ACTIONS = /^(top|resize|exec_|attach|archive|copy|export|detach|commit|extract)/;
/**
 * Container events that change nothing the cache holds beyond what the next event says: a kill
 * that kills is followed by `die` (re-read), `stop` and `restart` by `die` and `start`.
 */
const FOLLOWED_CONTAINER_ACTIONS = new Set(['kill', 'stop', 'restart', 'oom']);

export class Engine {
  readonly target: EngineTarget;
  readonly health: EngineHealth;
  /** What validation and /info told of the engine: read by all, set only here (private setters). */
  private readonly facts = {
    id: '',
    daemonId: '',
    name: '',
    ip: '',
    info: {} as Readonly<Partial<EngineInfo>>,
    version: {} as Readonly<EngineVersion>,
    apiVersion: MIN_API_VERSION,
    rawCpus: 0,
    rawMemory: 0,
    labels: {} as Readonly<Record<string, string>>,
    updatedAt: new Date(),
    lastAttempt: 0,
  };
  /** What is cached of the engine (engine-cache.ts). */
  private readonly cache: EngineCache;
  private lastInfoAt = 0;
  private stopper = new AbortController();
  private wake?: AbortController;
  private loopsStarted = false;
  private validating = false;

  constructor(
    readonly addr: string,
    readonly opts: EngineOptions,
    private readonly hooks: EngineHooks,
  ) {
    this.target = targetOf(addr, opts.tls);
    const onChange = hooks.onContainerChange;
    this.cache = new EngineCache(onChange ? (was, now) => onChange(this, was, now) : undefined);
    this.health = new EngineHealth(opts.failureRetry);
  }

  /** `<daemon ID>|<addr>` once validated ('' before). */
  get id(): string {
    return this.facts.id;
  }
  private set id(v: string) {
    this.facts.id = v;
  }
  get daemonId(): string {
    return this.facts.daemonId;
  }
  private set daemonId(v: string) {
    this.facts.daemonId = v;
  }
  get name(): string {
    return this.facts.name;
  }
  private set name(v: string) {
    this.facts.name = v;
  }
  get ip(): string {
    return this.facts.ip;
  }
  private set ip(v: string) {
    this.facts.ip = v;
  }
  /** The engine's /info, the fields the manager reads ({} until validated). */
  get info(): Readonly<Partial<EngineInfo>> {
    return this.facts.info;
  }
  private set info(v: Readonly<Partial<EngineInfo>>) {
    this.facts.info = v;
  }
  get version(): Readonly<EngineVersion> {
    return this.facts.version;
  }
  private set version(v: Readonly<EngineVersion>) {
    this.facts.version = v;
  }
  /** The API version every request to this engine uses (negotiated at validation). */
  get apiVersion(): string {
    return this.facts.apiVersion;
  }
  private set apiVersion(v: string) {
    if (v !== this.facts.apiVersion) noteEngineStateChange();
    this.facts.apiVersion = v;
  }
  /** Raw capacity as the engine reports it. */
  get rawCpus(): number {
    return this.facts.rawCpus;
  }
  private set rawCpus(v: number) {
    this.facts.rawCpus = v;
  }
  get rawMemory(): number {
    return this.facts.rawMemory;
  }
  private set rawMemory(v: number) {
    this.facts.rawMemory = v;
  }
  /** Engine labels with the standard ones; replaced whole when /info is read again (its identity is its version). */
  get labels(): Readonly<Record<string, string>> {
    return this.facts.labels;
  }
  private set labels(v: Readonly<Record<string, string>>) {
    this.facts.labels = v;
  }
  /** When the last full refresh ended. */
  get updatedAt(): Date {
    return this.facts.updatedAt;
  }
  private set updatedAt(v: Date) {
    this.facts.updatedAt = v;
  }
  /** When validation was last tried (Pending engines are retried with back-off from it). */
  get lastAttempt(): number {
    return this.facts.lastAttempt;
  }
  private set lastAttempt(v: number) {
    this.facts.lastAttempt = v;
  }

  // ---- the cache, read-only ------------------------------------------------------------------------

  /** By ID, with the index's lookups by name, swarm ID and prefix (container-index.ts). */
  get containers(): ContainerView {
    return this.cache.containers;
  }
  /** Bumped whenever `containers` changes, so views derived from it (info tallies) can be cached. */
  get containersVersion(): number {
    return this.cache.containersVersion;
  }
  get images(): readonly ImageSummary[] {
    return this.cache.images;
  }
  get networks(): ReadonlyMap<string, NetworkResource> {
    return this.cache.networks;
  }
  get volumes(): ReadonlyMap<string, Volume> {
    return this.cache.volumes;
  }
  /** Whether the exec instance was created on this engine through the manager (and is still remembered). */
  hasExec(execId: string): boolean {
    return this.cache.hasExec(execId);
  }

  /** An exec instance was created in container `containerId` (exec start, resize and inspect are routed by it). */
  execCreated(execId: string, containerId: string): void {
    this.cache.execCreated(execId, containerId);
  }

  get state() {
    return this.health.state;
  }

  get stateLabel(): string {
    return STATE_LABEL[this.health.state];
  }

  get cpus(): number {
    return withOvercommit(this.rawCpus, this.opts.overcommit);
  }

  get memory(): number {
    return withOvercommit(this.rawMemory, this.opts.overcommit);
  }

  isHealthy(): boolean {
    return this.health.state === 'healthy';
  }

  /** `/v1.NN<path>` at the negotiated version. */
  path(p: string): string {
    return `/v${this.apiVersion}${p}`;
  }

  // ---- calls with health accounting ------------------------------------------------------------

  private report(t: HealthTransition): void {
    if (t) this.hooks.onTransition(this, t);
    // A stream that was open while the engine was unreachable may be stalled (a cut link sends no
    // reset): once the engine answers again it is reopened, catching up from where it got to.
    if (t === 'disconnect') this.streamStale = true;
    if (t === 'reconnect') {
      this.kick();
      if (this.streamStale) this.stream?.abort();
      this.startEvents();
    }
  }

  /** Records the outcome of any call (refresh, proxy, create) in the health state machine. */
  noteSuccess(): void {
    this.report(this.health.success());
  }

  noteFailure(err: unknown): void {
    engineCallError(this.name || this.addr, isConnectionError(err));
    this.report(this.health.failure(errorMessage(err), isConnectionError(err)));
  }

  private async tracked<T>(p: Promise<T>): Promise<T> {
    try {
      const v = await p;
      this.noteSuccess();
      return v;
    } catch (err) {
      if (!(err instanceof EngineHttpError)) this.noteFailure(err);
      else this.noteSuccess();
      throw err;
    }
  }

  json<T = unknown>(method: string, p: string, opts: CallOptions = {}): Promise<T> {
    // Our transport, not dockerode, on the hot paths (validation's /info and /version, lists, inspect;
    // events stay a raw stream). `bun bench/run.ts --sizes 1000`, run twice each, alternating:
    // this transport 6.8 s / 7.5 s to all Healthy, create+start p99 15.5 / 17.8 ms; dockerode on these
    // calls (getContainer().inspect, listContainers, info, version) 171.1 s / 172.8 s, p99 35.7 / 23.4 ms.
    // Pooled (fetch) for a validation's many reads, once /info and /version answered; other calls keep
    // node:http's connect timeout, which is how a cut-off engine is noticed within seconds.
    return this.tracked(callJson<T>(this.target, method, this.path(p), { timeoutMs: this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS, pooled: this.validating, ...opts }));
  }

  raw(method: string, p: string, opts: CallOptions = {}): Promise<RawResponse> {
    return this.tracked(call(this.target, method, this.path(p), { timeoutMs: this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS, ...opts }));
  }

  /** A call through dockerode at the negotiated API version, over this engine's agent; counted like json/raw. */
  docker<T>(timeoutMs: number, run: (docker: Docker, abortSignal: AbortSignal) => Promise<T>): Promise<T> {
    return this.tracked(engineDocker(this.target, this.apiVersion).then((docker) => viaDockerode(this.target, timeoutMs, (signal) => run(docker, signal))));
  }

  /** Runs `fn` over `items`, at most `limit` at a time. */
  private async eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await fn(items[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  }

  open(method: string, p: string, opts: CallOptions = {}): Promise<http.IncomingMessage> {
    return this.tracked(openRequest(this.target, method, this.path(p), opts));
  }

  // ---- validation ---------------------------------------------------------------------------------

  /** Connect + info + version + full refresh. Returns true when the engine became Healthy. */
  async validate(): Promise<boolean> {
    if (this.validating || this.state === 'disconnected') return false;
    this.validating = true;
    this.lastAttempt = Date.now();
    try {
      try {
        this.ip = (await lookup(this.target.host)).address;
      } catch {
        this.ip = this.target.host;
      }
      const info = await callJson<EngineInfo>(this.target, 'GET', '/info', { timeoutMs: this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS });
      if (!(info?.NCPU > 0) || !(info?.MemTotal > 0)) {
        throw new Error(`cannot get resources for this engine, make sure ${this.addr} is a Docker Engine, not a Swarm manager`);
      }
      const version = await callJson<EngineVersion>(this.target, 'GET', '/version', { timeoutMs: this.opts.timeoutMs ?? REQUEST_TIMEOUT_MS });
      const api = negotiateApiVersion(version?.ApiVersion, version?.MinAPIVersion);
      if (!api.ok) throw new Error(api.error);
      // What is read of them (the whole /info is some kilobytes per engine).
      this.version = { Version: version.Version, ApiVersion: version.ApiVersion, MinAPIVersion: version.MinAPIVersion };
      this.apiVersion = api.version;
      this.applyInfo(info);
      const id = `${info.ID}|${this.addr}`;
      const other = this.hooks.engineWithId(id, this);
      if (other) throw new Error(`ID duplicated. ${id} shared by this node ${this.addr} and another node ${other.addr}`);
      this.id = id;
      this.daemonId = info.ID;
      await this.refreshAll();
      if ((this.state as string) === 'disconnected') return false;
      const t = this.health.validated();
      this.updatedAt = new Date();
      if (t) this.hooks.onTransition(this, t);
      this.startLoops();
      return true;
    } catch (err) {
      this.health.validationFailed(errorMessage(err));
      log.warn('Engine validation failed, will retry', { addr: this.addr, error: errorMessage(err) });
      return false;
    } finally {
      this.validating = false;
    }
  }

  private applyInfo(info: EngineInfo): void {
    this.info = { ID: info.ID, Name: info.Name, NCPU: info.NCPU, MemTotal: info.MemTotal, Driver: info.Driver, KernelVersion: info.KernelVersion, OperatingSystem: info.OperatingSystem, OSType: info.OSType, Labels: info.Labels };
    this.lastInfoAt = Date.now();
    this.name = info.Name || this.name;
    this.rawCpus = info.NCPU;
    this.rawMemory = info.MemTotal;
    const labels: Record<string, string> = {
      storagedriver: info.Driver ?? '',
      kernelversion: info.KernelVersion ?? '',
      operatingsystem: info.OperatingSystem ?? '',
      ostype: info.OSType ?? '',
    };
    for (const l of info.Labels ?? []) {
      const i = l.indexOf('=');
      if (i < 0) throw new Error(`invalid engine label "${l}": expected key=value`);
      const k = l.slice(0, i);
      if (k === 'node') {
        log.warn('Engine label "node" is ignored (it would clash with the node constraint)', { addr: this.addr });
        continue;
      }
      if (!(k in labels)) labels[k] = l.slice(i + 1);
    }
    this.labels = labels;
  }

  // ---- refresh ------------------------------------------------------------------------------------

  async refreshAll(): Promise<void> {
    await this.refreshContainers(true);
    await Promise.all([this.refreshImages(), this.refreshNetworks(), this.refreshVolumes()]);
    this.updatedAt = new Date();
  }

  async refreshInfo(): Promise<void> {
    const info = await this.json<EngineInfo>('GET', '/info');
    const id = `${info.ID}|${this.addr}`;
    if (this.id && id !== this.id) {
      const msg = `Engine (ID: ${this.id}, Addr: ${this.addr}) shows up with another ID:${id}. Please remove it from cluster, it can be added back.`;
      log.error(msg);
      this.report(this.health.backToPending(msg));
      return;
    }
    this.applyInfo(info);
  }

  /** Puts a container back in the cache (a reschedule that failed after dropping it). */
  restoreContainer(c: CachedContainer): void {
    this.cache.restoreContainer(c);
  }

  /** Drops a container and its execs from the cache (destroy event, removal through the API). */
  forgetContainer(id: string): void {
    this.cache.forgetContainer(id);
  }

  /** Drops every cached container at once (an engine being discarded: bench/memory.ts weighs them so). */
  dropContainers(): void {
    this.cache.dropContainers();
  }

  /** Lists all containers; inspects the new ones (and all of them when `full`). */

  async refreshContainers(full = false): Promise<void> {
    const started = Date.now();
    const raw = await this.json<unknown>('GET', '/containers/json?all=1');
    const list = usableRecords<ContainerSummary>(raw, containerSummaryProblem, this.skipRecord('container')).filter((s) => !this.cache.removedSince(s.Id, started));
    const next = new Map<string, CachedContainer>();
    await this.eachLimited(list, 8, async (s) => {
      const old = this.containers.get(s.Id);
      let entry: CachedContainer = { id: s.Id, summary: internSummary(s), inspect: old?.inspect };
      if (full || !old?.inspect || s.State === 'restarting' || old.summary?.State !== s.State) {
        try {
          const inspect = await this.json<ContainerInspect>('GET', `/containers/${s.Id}/json`);
          const bad = containerInspectProblem(inspect);
          if (bad) return this.skipRecord('container')(bad, s);
          entry = cacheEntry(inspect, s);
        } catch {
          /* gone meanwhile */
        }
      }
      next.set(s.Id, entry);
    });
    this.cache.applyList(next, started);
  }

  /** Reads of one container in flight, so a create and its `create` event share one. */
  private reading = new Map<string, Promise<CachedContainer | undefined>>();

  /**
   * Re-reads one container (after an event or a call that changed it) with one inspect: its list
   * entry is derived from the inspect (cache-entry.ts), so no container list is needed. A 404 drops
   * it; any other failure leaves the cached entry as it was.
   */
  refreshContainer(id: string, pooled = false): Promise<CachedContainer | undefined> {
    const read = this.readContainer(id, pooled).finally(() => {
      if (this.reading.get(id) === read) this.reading.delete(id);
    });
    this.reading.set(id, read);
    return read;
  }

  private async readContainer(id: string, pooled: boolean): Promise<CachedContainer | undefined> {
    let inspect: ContainerInspect;
    try {
      inspect = await this.json<ContainerInspect>('GET', `/containers/${encodeURIComponent(id)}/json`, pooled ? { pooled } : {});
    } catch (err) {
      if (err instanceof EngineHttpError && err.status === 404) {
        for (const key of this.containers.keys()) if (key === id || key.startsWith(id)) this.forgetContainer(key);
        return undefined;
      }
      throw err;
    }
    const full = typeof inspect?.Id === 'string' ? inspect.Id : id;
    const bad = containerInspectProblem(inspect) ?? (typeof inspect?.Id === 'string' ? undefined : 'container inspect has no Id');
    if (bad) {
      this.skipRecord('container')(bad, inspect);
      this.forgetContainer(full);
      return undefined;
    }
    const entry = cacheEntry(inspect, undefined, this.containers.get(full));
    this.cache.containerRead(entry);
    return entry;
  }

  /**
   * The cached container `id` as the engine has it now that it was created: the entry a read
   * already made (the `create` event may come first), else one read, shared with any in flight.
   */
  learnContainer(id: string): Promise<CachedContainer | undefined> {
    const cached = this.containers.get(id);
    if (cached) return Promise.resolve(cached);
    // The engine has just answered the create (or sent the event): its connection works (pooled).
    return this.reading.get(id) ?? this.refreshContainer(id, true);
  }

  /**
   * A container started (its start answered 204, or the `start` event): running from `startedAt`
   * on, without asking the engine, unless it publishes ports (the engine binds them: one read).
   * Nothing to do when the cache already shows it running (the event and the answer both tell).
   */
  async containerStarted(id: string, startedAt = new Date().toISOString()): Promise<void> {
    const c = this.containers.get(id);
    if (c && (c.inspect?.State?.Status ?? c.summary.State) === 'running') return;
    if (!c || startNeedsEngine(c)) {
      await (this.reading.get(id) ?? this.refreshContainer(id));
      return;
    }
    this.replaceContainer(startedEntry(c, startedAt, (name) => [...this.networks.values()].find((n) => n.Name === name)?.Id));
  }

  /** Puts a locally updated entry in place of the cached one. */
  private replaceContainer(c: CachedContainer): void {
    this.cache.containerRead(c);
  }

  async refreshImages(): Promise<void> {
    this.cache.setImages(usableRecords<ImageSummary>(await this.json<unknown>('GET', '/images/json'), imageProblem, this.skipRecord('image')));
  }

  async refreshNetworks(): Promise<void> {
    const list = usableRecords<NetworkResource>(await this.json<unknown>('GET', '/networks'), networkProblem, this.skipRecord('network'));
    this.cache.setNetworks(list);
  }

  async refreshVolumes(): Promise<void> {
    const r = await this.json<VolumeListResponse | undefined>('GET', '/volumes');
    const list = usableRecords<Volume>(r?.Volumes, volumeProblem, this.skipRecord('volume'));
    this.cache.setVolumes(list);
  }

  /** Malformed records already reported (one log line per record and reason, not one per refresh). */
  private reported = new Set<string>();

  private skipRecord(kind: string): (reason: string, record: unknown) => void {
    return (reason, record) => {
      const id = typeof record === 'object' && record !== null ? String((record as { Id?: unknown; Name?: unknown }).Id ?? (record as { Name?: unknown }).Name ?? '?') : '?';
      const key = `${kind}|${id}|${reason}`;
      if (this.reported.has(key)) return;
      if (this.reported.size > 10_000) this.reported.clear();
      this.reported.add(key);
      log.warn(`Engine sent a malformed ${kind}, ignored`, { name: this.name, addr: this.addr, id, problem: reason });
    };
  }

  // ---- loops --------------------------------------------------------------------------------------

  private startLoops(): void {
    if (this.loopsStarted) return;
    this.loopsStarted = true;
    void this.refreshLoop();
    this.startEvents();
  }

  /** Wakes the refresh loop now. */
  kick(): void {
    this.wake?.abort();
  }

  private async refreshLoop(): Promise<void> {
    const stop = this.stopper.signal;
    while (!stop.aborted) {
      this.wake = new AbortController();
      const both = AbortSignal.any([stop, this.wake.signal]);
      await sleep(this.health.refreshDelay(this.opts.refreshMinMs, this.opts.refreshMaxMs), both);
      if (stop.aborted) break;
      if (this.state === 'pending') continue;
      try {
        if (this.state === 'unhealthy' || Date.now() - this.lastInfoAt > 5 * 60_000) await this.refreshInfo();
        await this.refreshContainers(false);
        await Promise.all([this.refreshVolumes(), this.refreshNetworks(), this.refreshImages()]);
        this.updatedAt = new Date();
      } catch (err) {
        log.debug('Engine refresh failed', { name: this.name, addr: this.addr, error: errorMessage(err) });
      }
    }
  }

  private eventsRunning = false;
  /** Where the /events stream got to; the first stream starts from when the engine was added. */
  private readonly eventCursor = new EventCursor(Date.now() * 1e6);
  /** Aborts the open stream only (the loop then reopens it at once). */
  private stream?: AbortController;
  private streamStale = false;

  private startEvents(): void {
    if (this.eventsRunning || this.stopper.signal.aborted) return;
    this.eventsRunning = true;
    void this.eventsLoop().finally(() => {
      this.eventsRunning = false;
    });
  }

  private async eventsLoop(): Promise<void> {
    const stop = this.stopper.signal;
    let opened = 0;
    while (!stop.aborted) {
      const stream = new AbortController();
      this.stream = stream;
      try {
        // Opened again (the stream broke, the engine restarted or was Unhealthy): the engine replays
        // what it still holds since the last event seen, and the cursor drops what was seen already.
        const since = this.eventCursor.since();
        const openedAt = Date.now() * 1e6;
        const res = await openRequest(this.target, 'GET', this.path(since ? `/events?since=${since}` : '/events'), { signal: AbortSignal.any([stop, stream.signal]) });
        if (res.statusCode !== 200) throw new Error(`events stream answered HTTP ${res.statusCode}`);
        res.socket?.setKeepAlive(true, 30_000);
        if (opened++ > 0) eventStreamReconnect(this.name || this.addr);
        this.streamStale = false;
        this.noteSuccess();
        // An event too large to be worth parsing (a container with megabytes of labels) is dropped as
        // it streams; the refresh loop, woken now, reads that container instead.
        const parser = new JsonStreamParser(DEFAULT_MAX_OBJECT_BYTES, (bytes) => {
          log.warn('Engine event too large, skipped; refreshing instead', { name: this.name, addr: this.addr, bytes });
          this.kick();
        });
        res.setEncoding('utf8');
        for await (const chunk of res as AsyncIterable<string>) {
          for (const ev of parser.push(chunk)) {
            const event = ev as DockerEvent;
            if (!this.eventCursor.accept(event)) {
              eventDuplicate(this.name || this.addr);
              continue;
            }
            if (opened > 1 && eventNano(event) < openedAt) eventCaughtUp(this.name || this.addr);
            await this.handleEvent(event);
          }
        }
        if (stop.aborted) break;
        if (stream.signal.aborted) continue;
        // The engine ended a stream it keeps open while it runs: as a broken connection, for health.
        throw new TransportError('reset', 'events stream closed by the engine');
      } catch (err) {
        if (stop.aborted) break;
        if (stream.signal.aborted) continue;
        // A failure while reading the stream comes from the socket as it is: typed here.
        this.noteFailure(transportError(err, this.target));
        log.debug('Engine events stream failed', { name: this.name, addr: this.addr, error: errorMessage(err) });
        // Woken early when the engine comes back (report: reconnect aborts `stream`).
        await sleep(Math.min(this.health.failureCount + 1, 10) * 1000, AbortSignal.any([stop, stream.signal]));
      }
    }
  }

  private async handleEvent(ev: DockerEvent): Promise<void> {
    const type = ev.Type ?? 'container';
    const action = ev.Action ?? ev.status ?? '';
    const id = ev.Actor?.ID ?? ev.id ?? '';
    try {
      if (type === 'container') {
        if (action === 'destroy') this.forgetContainer(id);
        else if (id && !IGNORED_CONTAINER_ACTIONS.test(action)) await this.applyContainerEvent(id, action, ev);
        if (action.startsWith('commit')) await this.refreshImages();
      } else if (type === 'image') await this.refreshImages();
      // Connecting and disconnecting change no network's list entry (the list carries no endpoints).
      else if (type === 'network' && action !== 'connect' && action !== 'disconnect') await this.refreshNetworks();
      else if (type === 'volume') await this.refreshVolumes();
      else if (type === 'daemon' && action === 'reload') await this.refreshInfo();
    } catch (err) {
      log.debug('Refresh after event failed', { addr: this.addr, event: `${type} ${action}`, error: errorMessage(err) });
    }
    this.hooks.onEvent(this, ev);
  }

  /**
   * A container event into the cache: the changes an event describes in full (create of a known
   * container, start, pause, unpause, rename, health status) are applied as they are; the others
   * are re-read with one inspect; those another event follows are left to it.
   */
  private async applyContainerEvent(id: string, action: string, ev: DockerEvent): Promise<void> {
    const c = this.containers.get(id);
    if (FOLLOWED_CONTAINER_ACTIONS.has(action) && c) return;
    if (action === 'create') {
      await this.learnContainer(id);
      return;
    }
    if (action === 'start') return this.containerStarted(id, new Date(eventNano(ev) / 1e6 || Date.now()).toISOString());
    if (!c) {
      await this.refreshContainer(id);
      return;
    }
    const name = ev.Actor?.Attributes?.name;
    if (action === 'pause' || action === 'unpause') this.replaceContainer(pausedEntry(c, action === 'pause'));
    else if (action === 'rename' && name) this.replaceContainer(renamedEntry(c, name));
    else if (action.startsWith('health_status: ')) this.replaceContainer(healthEntry(c, action.slice('health_status: '.length)));
    else await this.refreshContainer(id);
  }

  /** The address left discovery: stop everything. */
  stop(): HealthTransition {
    this.stopper.abort();
    releaseAgent(this.target);
    return this.health.disconnect();
  }
}
