/**
 * Rescheduling on node failure (spec §6), run by the primary only (or the only manager).
 *
 * - `engine_disconnect` (a node flagged Unhealthy, or gone from discovery): every container on it
 *   labelled `com.docker.swarm.reschedule-policies=["on-node-failure"]` is dropped from the node's
 *   cache and created again through the normal scheduler with the same config, name and
 *   `com.docker.swarm.id` (its image pulled where missing, its local network copied where needed);
 *   if it was running, the new one is started.
 * - `engine_connect` / `engine_reconnect` (a node back): any container there whose swarm ID now
 *   lives on another node, in a newer copy, is force-removed with its volumes, so there are never two.
 * - On becoming primary: the same two passes over the nodes that are already down or up.
 */
import type { IdResponse, NetworkResource } from '../engine/docker-types';
import type Docker from 'dockerode';
import { EngineHttpError } from '../engine/http';
import type { CachedContainer, Engine } from '../engine/engine';
import { errorMessage } from '../errors';
import { log } from '../log';
import { RESCHEDULE_POLICIES_LABEL, sharesToCpus } from '../scheduler/index';
import { swarmIdOf, type Cluster } from './cluster';
import { createContainer } from './create';
import type { Placer } from './scheduling';

const ON_NODE_FAILURE = 'on-node-failure';

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function containerLabels(c: CachedContainer): Record<string, string> {
  const labels: unknown = c.inspect?.Config?.Labels ?? c.summary?.Labels;
  return isObject(labels) ? (labels as Record<string, string>) : {};
}

export { swarmIdOf };

/** Whether the container's reschedule-policies label names `policy`. */
export function hasReschedulePolicy(c: CachedContainer, policy = ON_NODE_FAILURE): boolean {
  const text = containerLabels(c)[RESCHEDULE_POLICIES_LABEL];
  if (!text) return false;
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) && parsed.includes(policy);
  } catch {
    return false;
  }
}

export function isRunning(c: CachedContainer): boolean {
  const st = c.inspect?.State;
  if (isObject(st)) return st.Running === true || st.Restarting === true;
  return c.summary?.State === 'running' || c.summary?.State === 'restarting';
}

/** Creation time in ms (inspect's RFC 3339 `Created`, else the list's seconds). */
export function createdMs(c: CachedContainer): number {
  const t = typeof c.inspect?.Created === 'string' ? Date.parse(c.inspect.Created) : NaN;
  if (Number.isFinite(t)) return t;
  return typeof c.summary?.Created === 'number' ? c.summary.Created * 1000 : 0;
}

export function containerName(c: CachedContainer): string {
  const n = typeof c.inspect?.Name === 'string' ? c.inspect.Name : (c.summary?.Names ?? []).find((x) => x.lastIndexOf('/') === 0) ?? '';
  return n.replace(/^\//, '');
}

const BUILTIN_NETWORK_MODES = new Set(['', 'default', 'bridge', 'host', 'none']);

/**
 * The create body that makes the container again: its Config (labels with the swarm ID and policy
 * included), HostConfig with CpuShares read back as CPUs (the scheduler converts them again for the
 * new node, as v1 did), and the endpoint settings of a user-defined network mode.
 */
export function recreateBody(c: CachedContainer, engineCpus: number): Json {
  const inspect: Json = isObject(c.inspect) ? c.inspect : {};
  const config: Json = isObject(inspect.Config) ? structuredClone(inspect.Config) : {};
  const shortId = c.id.slice(0, 12);
  // The engine's default hostname is the old container's short ID: let the new one get its own.
  if (config.Hostname === shortId) delete config.Hostname;
  const hostConfig: Json = isObject(inspect.HostConfig) ? structuredClone(inspect.HostConfig) : {};
  if (typeof hostConfig.CpuShares === 'number' && hostConfig.CpuShares > 0) hostConfig.CpuShares = sharesToCpus(hostConfig.CpuShares, engineCpus);
  const body: Json = { ...config, HostConfig: hostConfig };
  const mode = typeof hostConfig.NetworkMode === 'string' ? hostConfig.NetworkMode : '';
  const settings = isObject(inspect.NetworkSettings) && isObject(inspect.NetworkSettings.Networks) ? inspect.NetworkSettings.Networks : {};
  if (!BUILTIN_NETWORK_MODES.has(mode) && !mode.startsWith('container:')) {
    const ep = settings[mode];
    if (isObject(ep)) {
      const aliases = Array.isArray(ep.Aliases) ? ep.Aliases.filter((a) => a !== shortId) : null;
      body.NetworkingConfig = { EndpointsConfig: { [mode]: { IPAMConfig: ep.IPAMConfig ?? null, Links: ep.Links ?? null, Aliases: aliases } } };
    }
  }
  return body;
}

/** A rejection handler that takes the engine's `status` answer (started already, exists already) as done. */
function alreadyDone(status: number): (err: unknown) => void {
  return (err) => {
    if (!(err instanceof EngineHttpError && err.status === status)) throw err;
  };
}

/** The `POST /networks/create` body for a copy of a local network on another engine. */
export function networkCopyBody(n: NetworkResource, withSubnets: boolean): Docker.NetworkCreateOptions {
  const ipam: Json = isObject(n.IPAM) ? n.IPAM : {};
  return {
    Name: n.Name,
    CheckDuplicate: true,
    Driver: n.Driver,
    Internal: n.Internal === true,
    Attachable: n.Attachable === true,
    EnableIPv6: n.EnableIPv6 === true,
    Options: stringMap(n.Options),
    Labels: stringMap(n.Labels),
    // The engine's own IPAM entries, given back as they came.
    IPAM: { Driver: typeof ipam.Driver === 'string' ? ipam.Driver : 'default', Options: stringMap(ipam.Options), Config: (withSubnets && Array.isArray(ipam.Config) ? ipam.Config : []) as NonNullable<Docker.NetworkCreateOptions['IPAM']>['Config'] },
  };
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Containers to move off a failed node. */
export function containersToReschedule(containers: Iterable<CachedContainer>): CachedContainer[] {
  return [...containers].filter((c) => hasReschedulePolicy(c));
}

/**
 * Containers on `engine` that are stale copies: their swarm ID also lives on another node in a
 * copy created later (the rescheduled one).
 */
export function staleCopies(mine: Iterable<CachedContainer>, elsewhere: Iterable<CachedContainer>): CachedContainer[] {
  const newest = new Map<string, number>();
  for (const c of elsewhere) {
    const sid = swarmIdOf(c);
    if (sid) newest.set(sid, Math.max(newest.get(sid) ?? 0, createdMs(c)));
  }
  return [...mine].filter((c) => {
    const sid = swarmIdOf(c);
    const other = sid ? newest.get(sid) : undefined;
    return other !== undefined && other >= createdMs(c);
  });
}

export class Rescheduler {
  private active = false;
  private chain: Promise<void> = Promise.resolve();
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
    if (!active) return;
    // A new primary catches up with what happened while it was a replica.
    for (const e of this.cluster.all()) {
      if (e.state === 'unhealthy') this.enqueue(() => this.rescheduleFrom(e));
      else if (e.state === 'healthy') this.enqueue(() => this.removeDuplicates(e, false));
    }
  }

  stop(): void {
    this.active = false;
    this.cluster.bus.off('swarm', this.onSwarm);
  }

  /** Resolves once every queued pass is done (tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  private handle(action: string, engine: Engine): void {
    if (!this.active) return;
    if (action === 'engine_disconnect') this.enqueue(() => this.rescheduleFrom(engine));
    else if (action === 'engine_connect' || action === 'engine_reconnect') this.enqueue(() => this.removeDuplicates(engine, action === 'engine_reconnect'));
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => log.error('Rescheduling pass failed', { error: errorMessage(err) }));
  }

  async rescheduleFrom(engine: Engine): Promise<void> {
    if (!this.active) return;
    const victims = containersToReschedule(engine.containers.values());
    if (!victims.length) return;
    log.info(`Node ${engine.name || engine.addr} failed - rescheduling containers`, { node: engine.name, addr: engine.addr, containers: victims.length });
    for (const c of victims) {
      if (!this.active) return;
      const name = containerName(c);
      // Already moved (by a previous primary, seen by this one as a replica): just drop the stale entry.
      const sid = swarmIdOf(c);
      if (sid && this.livesElsewhere(sid, engine)) {
        log.info(`Container ${c.id} (${name}) already rescheduled, dropping it from ${engine.name}`);
        engine.forgetContainer(c.id);
        continue;
      }
      const body = recreateBody(c, engine.rawCpus);
      // Drop it from the failed node first, or both show up in ps and the name looks taken.
      engine.forgetContainer(c.id);
      let created: IdResponse;
      try {
        const placementConstraints = await this.networkHome(body, engine);
        // No client is there to pull a missing image: the engine pulls it, as v1 does.
        created = await createContainer(this.placer, body, name, undefined, { pullOnCreate: true, placementConstraints });
      } catch (err) {
        log.error(`Failed to reschedule container ${c.id}: ${errorMessage(err)}`, { name });
        // Back into the cache, so it can be retried at the next failure.
        engine.restoreContainer(c);
        continue;
      }
      const newId = created.Id;
      const found = this.cluster.findContainer(newId);
      const target = found?.engine;
      log.info(`Rescheduled container ${c.id} from ${engine.name} to ${target?.name ?? '?'} as ${newId}`, { name });
      if (isRunning(c) && target) {
        log.info(`Container ${c.id} was running, starting container ${newId}`);
        try {
          await target.docker(120_000, (docker, abortSignal) => docker.getContainer(newId).start({ abortSignal })).catch(alreadyDone(304));
          await target.refreshContainer(newId).catch(() => undefined);
        } catch (err) {
          log.error(`Failed to start rescheduled container ${newId}: ${errorMessage(err)}`);
        }
      }
    }
  }

  /**
   * Beyond v1: a container on a network local to the failed node (a compose project's network) can
   * only run where a network of that name exists. If a healthy node has one, the container goes
   * there; otherwise the node the scheduler picks gets a copy of the network (same name, driver,
   * options, labels, IPAM), so the project comes back whole. Returns the constraint that pins the
   * placement to that node ([] when the container uses no such network).
   */
  private async networkHome(body: Json, failed: Engine): Promise<string[]> {
    const hostConfig = isObject(body.HostConfig) ? body.HostConfig : {};
    const mode = typeof hostConfig.NetworkMode === 'string' ? hostConfig.NetworkMode : '';
    if (BUILTIN_NETWORK_MODES.has(mode) || mode.startsWith('container:')) return [];
    const network = [...failed.networks.values()].find((n) => n.Scope === 'local' && (n.Name === mode || n.Id === mode));
    if (!network) return [];
    const holders = this.cluster.healthy().filter((e) => e !== failed && [...e.networks.values()].some((n) => n.Scope === 'local' && n.Name === network.Name));
    if (holders.length > 1) return [];
    if (holders.length === 1) return [`node==${holders[0]!.name}`];
    // Where the scheduler would put the container if its network were everywhere.
    const probe: Json = { ...body, HostConfig: { ...hostConfig, NetworkMode: 'default' } };
    delete probe.NetworkingConfig;
    // A probe: chosen, then released at once (the container's own create reserves).
    const { engine: target, release } = this.placer.place(this.placer.prepare(probe, ''));
    release();
    const copy = (withSubnets: boolean) =>
      target.docker(60_000, (docker, abortSignal) => docker.createNetwork({ ...networkCopyBody(network, withSubnets), abortSignal })).then(() => undefined, alreadyDone(409));
    try {
      // Its subnet may be taken on that node: then the engine chooses one.
      await copy(true).catch(() => copy(false));
    } catch (err) {
      throw new Error(`cannot create network ${network.Name} on ${target.name}: ${errorMessage(err)}`);
    }
    log.info(`Created network ${network.Name} on ${target.name} for the containers rescheduled from ${failed.name}`);
    await target.refreshNetworks().catch(() => undefined);
    return [`node==${target.name}`];
  }

  private livesElsewhere(swarmId: string, engine: Engine): boolean {
    for (const e of this.cluster.registered()) {
      if (e === engine) continue;
      for (const c of e.containers.values()) if (swarmIdOf(c) === swarmId) return true;
    }
    return false;
  }

  /** Force-removes the stale copies on `engine` (a node that came back). */
  async removeDuplicates(engine: Engine, refresh: boolean): Promise<void> {
    if (!this.active || !this.cluster.engines.has(engine.addr)) return;
    // The reconnect fires on the first successful call: read the node's containers before judging.
    if (refresh) await engine.refreshContainers().catch(() => undefined);
    // Only containers with the policy are ever rescheduled, so only they can have copies elsewhere:
    // a node without any costs nothing, which keeps 1,000 engines connecting from being O(n²).
    const mine = containersToReschedule(engine.containers.values());
    if (!mine.length) return;
    const ids = new Set(mine.map(swarmIdOf).filter(Boolean));
    const elsewhere: CachedContainer[] = [];
    for (const e of this.cluster.registered()) {
      if (e === engine) continue;
      for (const c of e.containers.values()) if (ids.has(swarmIdOf(c))) elsewhere.push(c);
    }
    for (const c of staleCopies(mine, elsewhere)) {
      log.info(`Container ${c.id} (${containerName(c)}) was rescheduled, removing the copy on ${engine.name}`, { swarmId: swarmIdOf(c) });
      try {
        const r = await engine.raw('DELETE', `/containers/${c.id}?force=1&v=1`, { timeoutMs: 60_000 });
        if (r.status >= 300 && r.status !== 404) throw new Error(`HTTP ${r.status}: ${r.body.toString().trim()}`);
        engine.forgetContainer(c.id);
      } catch (err) {
        log.error(`Failed to remove the stale copy of container ${c.id}: ${errorMessage(err)}`);
      }
    }
  }
}
