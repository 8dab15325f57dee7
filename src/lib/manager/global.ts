/**
 * Beyond v1 (classicswarm#601, #1708, #677): global containers. `docker run -d -l
 * com.docker.swarm.global=true --name g …` (or `-e global:true`) creates one copy named `g` on every
 * node that accepts the request (scheduler/global.ts), and later on every node that joins or comes
 * back; the create answers with the first copy's ID. The copies share `com.docker.swarm.global.id`
 * (each keeps its own swarm ID) and have no reschedule policy: they are never moved.
 *
 * Start, stop, restart, kill, pause, unpause and rm of the name (or of the global ID; start also of
 * any copy's ID, which is how `docker run` starts what it created) act on every copy; `<node>/<name>`
 * reaches one copy. The last start, stop or rm made through this manager is remembered, so a node
 * that was unreachable meanwhile catches up when it comes back (a stopped copy started, a removed
 * container's copy removed). Node events are acted on by the primary only, as the rescheduler does.
 */
import type { IdResponse, JsonObject } from '../engine/docker-types';
import type { CachedContainer, Engine } from '../engine/engine';
import { ApiError, errorMessage } from '../errors';
import { log } from '../log';
import { GLOBAL_ENV_KEY, GLOBAL_ID_LABEL, GLOBAL_LABEL, globalIdOf, SWARM_ID_LABEL, validateGlobal, type ContainerRequest } from '../scheduler/index';
import { parseContainerName } from '../scheduler/reference';
import type { Cluster, FoundContainer } from './cluster';
import { createContainer } from './create';
import { containerLabels, containerName, createdMs, isRunning, recreateBody } from './reschedule';
import { nameConflictMessage, newSwarmId, type Placer } from './scheduling';

/** The calls that act on every copy of a global container. */
export type GlobalOp = 'start' | 'stop' | 'restart' | 'kill' | 'pause' | 'unpause' | 'rm';

type Desired = 'running' | 'stopped';

/** Copies created at once (each on its own node). */
const PARALLEL_CREATES = 8;
/** Node events are gathered this long before a pass: a manager starting sees every engine connect. */
const PASS_DELAY_MS = 200;
/** Removed global containers remembered, so a copy on a node that was down is removed on its return. */
const REMOVED_KEPT = 1024;

/** The global container a cached container is a copy of ('' for none). */
export function copyOf(c: CachedContainer): string {
  return globalIdOf(containerLabels(c));
}

/**
 * The copies of the global container named `ref` (`g` or `/g`), when every container of that name
 * is one of them; [] otherwise (an ordinary container, a name shared with others, `<node>/<name>`).
 */
export function copiesNamed(cluster: Cluster, ref: string): FoundContainer[] {
  const { node, name } = parseContainerName(ref);
  const out: FoundContainer[] = [];
  if (node) return out;
  for (const found of cluster.containersNamed(name)) {
    if (copyOf(found.container) === '' || (out.length > 0 && copyOf(found.container) !== copyOf(out[0]!.container))) return [];
    out.push(found);
  }
  return out;
}

/** The create body for another copy, from an existing one: its config without its own swarm ID. */
export function copyBody(c: CachedContainer, engineCpus: number): Record<string, unknown> {
  const body = recreateBody(c, engineCpus);
  const labels = body.Labels;
  if (typeof labels === 'object' && labels !== null) delete (labels as Record<string, unknown>)[SWARM_ID_LABEL];
  return body;
}

/**
 * The body every copy of a new global container is created from: the labels that make it one
 * (`-e global:` folded into them), and no swarm ID, so each copy gets its own.
 */
export function globalCreateBody(body: JsonObject, globalId: string): JsonObject {
  const out = structuredClone(body);
  const labels = typeof out.Labels === 'object' && out.Labels !== null && !Array.isArray(out.Labels) ? out.Labels : {};
  delete labels[SWARM_ID_LABEL];
  labels[GLOBAL_LABEL] = 'true';
  labels[GLOBAL_ID_LABEL] = globalId;
  out.Labels = labels;
  if (Array.isArray(out.Env)) out.Env = out.Env.filter((e) => !(typeof e === 'string' && e.startsWith(`${GLOBAL_ENV_KEY}:`)));
  return out;
}

/** What a lifecycle call leaves a global container wanting (undefined: no change). */
export function desiredAfter(op: GlobalOp, query: URLSearchParams): Desired | undefined {
  if (op === 'start' || op === 'restart') return 'running';
  if (op === 'stop') return 'stopped';
  if (op === 'kill') {
    const signal = (query.get('signal') ?? '').toUpperCase();
    return signal === '' || signal === 'KILL' || signal === 'SIGKILL' || signal === '9' ? 'stopped' : undefined;
  }
  return undefined;
}

/** Runs `fn` for each item, at most `limit` at a time. */
async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** One operation at a time per key (a global ID): creates, lifecycle calls and catch-up passes. */
class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** The copies of one global container a call acts on. */
export interface GlobalTarget {
  globalId: string;
  /** Every copy the manager knows, on healthy and unhealthy nodes. */
  copies: FoundContainer[];
}

/** What one copy answered to a lifecycle call. */
export interface CopyOutcome {
  copy: FoundContainer;
  status: number;
  /** The engine's message when it failed. */
  error?: string;
}

export class GlobalContainers {
  private active = false;
  private readonly locks = new KeyedLock();
  private readonly removed = new Set<string>();
  private readonly desired = new Map<string, Desired>();
  /** Nodes that connected or came back since the last pass (true: came back, its cache to be re-read): their own copies catch up too. */
  private readonly arrived = new Map<Engine, boolean>();
  private dirty = false;
  private running: Promise<void> | undefined;
  private readonly onSwarm = (action: string, engine: Engine) => this.handle(action, engine);

  private readonly cluster: Cluster;

  constructor(private readonly placer: Placer) {
    this.cluster = placer.cluster;
    this.cluster.bus.on('swarm', this.onSwarm);
  }

  /** Primary (or single manager): act on node events; replica: ignore them. */
  setActive(active: boolean): void {
    if (this.active === active) return;
    this.active = active;
    // A new primary catches up with nodes that joined while it was a replica.
    if (active) this.schedulePass();
  }

  stop(): void {
    this.active = false;
    this.cluster.bus.off('swarm', this.onSwarm);
  }

  /** Resolves once no catch-up pass is running or due (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private handle(action: string, engine: Engine): void {
    if (!this.active) return;
    if (action === 'engine_connect' || action === 'engine_reconnect') this.arrived.set(engine, this.arrived.get(engine) === true || action === 'engine_reconnect');
    else if (action !== 'node_activate') return;
    this.schedulePass();
  }

  /** One pass at a time, after a short gathering delay, repeated while more are due. */
  private schedulePass(): void {
    this.dirty = true;
    if (this.running) return;
    this.running = (async () => {
      while (this.dirty && this.active) {
        await new Promise((r) => setTimeout(r, PASS_DELAY_MS));
        this.dirty = false;
        try {
          await this.pass();
        } catch (err) {
          log.error('Global container pass failed', { error: errorMessage(err) });
        }
      }
    })().finally(() => (this.running = undefined));
  }

  private copies(globalId: string): FoundContainer[] {
    return this.cluster.globalCopies(globalId);
  }

  // ---- create -------------------------------------------------------------------------------------

  /**
   * POST /containers/create of a global container: one copy on every node that accepts it, the same
   * name on each (`global-<id>` when none is given). Answers with the first copy created (nodes in
   * name order); copies that failed on other nodes are named in the answer's Warnings.
   */
  async create(body: JsonObject, name: string, auth?: string): Promise<IdResponse> {
    const globalId = newSwarmId();
    const copyName = name || `global-${globalId.slice(0, 12)}`;
    if (this.placer.nameTaken(copyName)) throw new ApiError(409, nameConflictMessage(copyName));
    const request = this.placer.prepare(body, copyName);
    const invalid = validateGlobal(request);
    if (invalid) throw new ApiError(400, invalid);
    const copy = globalCreateBody(body, globalId);
    return this.locks.run(globalId, async () => {
      const targets = this.targets(request, '');
      await this.requireImage(request, targets);
      const created: (IdResponse | undefined)[] = [];
      const failures: { node: string; err: unknown }[] = [];
      let refusal: ApiError | undefined;
      await eachLimited(targets, PARALLEL_CREATES, async (engine, i) => {
        if (refusal) return;
        try {
          created[i] = await createContainer(this.placer, copy, copyName, auth, { node: engine.addr });
        } catch (err) {
          // The request itself is refused (bad config, name taken): no other node would take it either.
          if (err instanceof ApiError && (err.status === 400 || err.status === 409) && !created.some(Boolean)) refusal ??= err;
          failures.push({ node: engine.name, err });
        }
      });
      const first = created.find((c) => c !== undefined);
      if (!first) {
        if (refusal) throw refusal;
        const f = failures[0];
        throw f?.err instanceof ApiError ? f.err : new ApiError(500, f ? errorMessage(f.err) : 'No nodes available in the cluster');
      }
      const warnings = failures.map((f) => `global container ${copyName}: no copy on ${f.node}: ${errorMessage(f.err)}`);
      for (const w of warnings) log.warn(w);
      log.info(`Created global container ${copyName} on ${created.filter(Boolean).length} nodes`, { globalId, first: first.Id });
      const engineWarnings = Array.isArray(first.Warnings) ? first.Warnings.filter((w): w is string => typeof w === 'string') : [];
      return { ...first, Warnings: [...engineWarnings, ...warnings] };
    });
  }

  /** The engines that take a new copy (in name order); for a new global container, none is an error. */
  private targets(request: ContainerRequest, globalId: string): Engine[] {
    return this.placer.placeGlobal(request, globalId);
  }

  /**
   * Without `swarm.pull-on-create`, a node lacking the image would fail its copy: answer the client
   * the engine's 404 instead, so that its pull policy applies (`docker run` pulls on every node
   * through the manager, then creates again; `--pull never` stops).
   */
  private async requireImage(request: ContainerRequest, targets: Engine[]): Promise<void> {
    if (this.cluster.opts.pullOnCreate || !request.image) return;
    const lacking = () => {
      const holders = new Set(this.cluster.enginesWithImage(request.image));
      return targets.filter((e) => !holders.has(e));
    };
    let missing = lacking();
    if (!missing.length) return;
    // The cache may be behind a pull or load that just ended.
    await Promise.all(missing.map((e) => e.refreshImages().catch(() => undefined)));
    missing = lacking();
    if (missing.length) throw new ApiError(404, `No such image: ${request.image} (missing on ${missing.map((e) => e.name).join(', ')})`);
  }

  // ---- lifecycle ----------------------------------------------------------------------------------

  /**
   * The global container a call names, or undefined (an ordinary container, or one copy named as
   * `<node>/<name>`): its global ID, its name when every container of that name is one of its
   * copies, or (start only) any copy's ID.
   */
  targetOf(ref: string, op: GlobalOp): GlobalTarget | undefined {
    if (!ref) return undefined;
    const copies = this.copies(ref);
    if (copies.length) return { globalId: ref, copies };
    const named = copiesNamed(this.cluster, ref);
    if (named.length) return { globalId: copyOf(named[0]!.container), copies: this.copies(copyOf(named[0]!.container)) };
    if (op === 'start' && !ref.includes('/')) {
      const found = this.cluster.findContainer(ref);
      const g = found ? copyOf(found.container) : '';
      if (g) return { globalId: g, copies: this.copies(g) };
    }
    return undefined;
  }

  /**
   * Runs a lifecycle call on every copy on a healthy node (at once), then remembers what the
   * container should be, for the nodes that could not be reached. After `rm` that removed every
   * reachable copy, copies that come back with their node are removed too.
   */
  async apply(target: GlobalTarget, op: GlobalOp, query: URLSearchParams, call: (copy: FoundContainer) => Promise<{ status: number; error?: string }>): Promise<CopyOutcome[]> {
    return this.locks.run(target.globalId, async () => {
      const reachable = this.copies(target.globalId).filter((f) => f.engine.isHealthy());
      const outcomes: CopyOutcome[] = [];
      await eachLimited(reachable, PARALLEL_CREATES, async (copy) => {
        let r: { status: number; error?: string };
        try {
          r = await call(copy);
        } catch (err) {
          r = { status: 500, error: errorMessage(err) };
        }
        outcomes.push({ copy, ...r });
        if (op === 'rm' && (r.status < 300 || r.status === 404)) copy.engine.forgetContainer(copy.container.id);
        else await copy.engine.refreshContainer(copy.container.id).catch(() => undefined);
      });
      const ok = (o: CopyOutcome) => o.status < 300 || o.status === 304 || (op === 'rm' && o.status === 404);
      if (op === 'rm') {
        if (outcomes.every(ok)) this.forgetGlobal(target.globalId);
      } else {
        const next = desiredAfter(op, query);
        if (next) this.desired.set(target.globalId, next);
      }
      return outcomes;
    });
  }

  private forgetGlobal(globalId: string): void {
    this.desired.delete(globalId);
    this.removed.add(globalId);
    if (this.removed.size > REMOVED_KEPT) this.removed.delete(this.removed.values().next().value!);
  }

  // ---- catching up --------------------------------------------------------------------------------

  /** Every global container gets its copy on every node that accepts it; arrived nodes' copies catch up. */
  private async pass(): Promise<void> {
    const arrived = [...this.arrived.keys()];
    const stale = arrived.filter((e) => this.arrived.get(e));
    this.arrived.clear();
    // A reconnect fires on the first call that succeeds: read the node's containers before judging.
    await Promise.all(stale.map((e) => e.refreshContainers().catch(() => undefined)));
    const ids = new Set<string>();
    for (const engine of this.cluster.registered()) for (const c of engine.containers.values()) {
      const g = copyOf(c);
      if (g) ids.add(g);
    }
    for (const globalId of ids) {
      if (!this.active) return;
      await this.locks.run(globalId, () => this.catchUp(globalId, new Set(arrived)));
    }
  }

  private async catchUp(globalId: string, arrived: Set<Engine>): Promise<void> {
    const copies = this.copies(globalId);
    if (!copies.length) return;
    if (this.removed.has(globalId)) {
      for (const { engine, container } of copies) if (engine.isHealthy()) await this.removeCopy(engine, container);
      return;
    }
    const template = copies.filter((f) => f.container.inspect).sort((a, b) => createdMs(a.container) - createdMs(b.container))[0];
    if (!template) return;
    const name = containerName(template.container);
    const others = copies.filter((f) => !arrived.has(f.engine));
    const desired = this.desired.get(globalId) ?? (others.some((f) => isRunning(f.container)) ? 'running' : undefined);
    const body = copyBody(template.container, template.engine.rawCpus);
    let targets: Engine[];
    try {
      targets = this.targets(this.placer.prepare(body, name), globalId);
    } catch (err) {
      log.error(`Global container ${name}: cannot place its copies: ${errorMessage(err)}`, { globalId });
      return;
    }
    await eachLimited(targets, PARALLEL_CREATES, async (engine) => {
      let created: IdResponse;
      try {
        // No client is there to pull a missing image: the engine pulls it, as for rescheduling.
        created = await createContainer(this.placer, body, name, undefined, { node: engine.addr, pullOnCreate: true });
      } catch (err) {
        log.error(`Failed to create the copy of global container ${name} on ${engine.name}: ${errorMessage(err)}`, { globalId });
        return;
      }
      log.info(`Created the copy of global container ${name} on ${engine.name} as ${created.Id}`, { globalId });
      if (desired === 'running') await this.startCopy(engine, created.Id, name);
    });
    for (const { engine, container } of copies) {
      if (!arrived.has(engine) || !engine.isHealthy()) continue;
      if (desired === 'running' && !isRunning(container)) await this.startCopy(engine, container.id, name);
      else if (desired === 'stopped' && isRunning(container)) await this.call(engine, 'POST', `/containers/${container.id}/stop`, `stop the copy of global container ${name} on ${engine.name}`);
    }
  }

  private async startCopy(engine: Engine, id: string, name: string): Promise<void> {
    if (await this.call(engine, 'POST', `/containers/${id}/start`, `start the copy of global container ${name} on ${engine.name}`)) {
      log.info(`Started the copy of global container ${name} on ${engine.name}`);
    }
  }

  private async removeCopy(engine: Engine, c: CachedContainer): Promise<void> {
    const name = containerName(c);
    if (await this.call(engine, 'DELETE', `/containers/${c.id}?force=1`, `remove the copy of removed global container ${name} on ${engine.name}`)) {
      log.info(`Removed the copy of removed global container ${name} on ${engine.name}`);
      engine.forgetContainer(c.id);
    }
  }

  /** One engine call of a catch-up pass; failures are logged (the next pass tries again). */
  private async call(engine: Engine, method: string, path: string, what: string): Promise<boolean> {
    try {
      const r = await engine.raw(method, path, { timeoutMs: 120_000 });
      if (r.status >= 300 && r.status !== 304 && !(method === 'DELETE' && r.status === 404)) throw new Error(`HTTP ${r.status}: ${r.body.toString().trim()}`);
      const id = /\/containers\/([^/?]+)/.exec(path)?.[1];
      if (id && method !== 'DELETE') await engine.refreshContainer(id).catch(() => undefined);
      return true;
    } catch (err) {
      log.error(`Failed to ${what}: ${errorMessage(err)}`);
      return false;
    }
  }
}
