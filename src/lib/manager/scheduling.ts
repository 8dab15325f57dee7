/**
 * The create seam between the manager and the scheduler (src/lib/scheduler): one Placer per manager
 * owns the scheduler configuration (strategy, filters, overcommit) and the reservations of the creates
 * in flight, as v1's Cluster owns its scheduler and pendingContainers (cluster/swarm/cluster.go).
 * Everything that chooses a node asks it: container creates (create.ts), global copies (global.ts),
 * the rescheduler's probe (reschedule.ts), builds (api/images.ts, api/buildkit.ts), networks and
 * volumes placed by their labels (api/networks.ts). It answers with engines, never with snapshots
 * to look up again, and with ApiError (errors.ts) when no node will do.
 */
import { randomBytes } from 'node:crypto';
import type { Engine } from '../engine/engine';
import { ApiError } from '../errors';
import {
  addAffinity,
  addConstraint,
  applyLocalityRules,
  clusterHasImage,
  engineCreateBody,
  getFilters,
  getStrategy,
  globalPlacement,
  hasHardNodeConstraint,
  imageAffinityRetry,
  noGlobalTargetMessage,
  osMismatchRetry,
  parseBuildRequest,
  parseCreateRequest,
  placeContainer,
  SWARM_ID_LABEL,
  validateReschedulePolicies,
  withLabel,
  type ContainerRequest,
  type ContainerSnapshot,
  type JsonObject,
  type NodeSnapshot,
  type PlaceOptions,
  type PlaceResult,
} from '../scheduler/index';
import { observePlacement } from '../metrics/metrics';
import type { Cluster } from './cluster';
import { clusterLocality } from './locality';

export function newSwarmId(): string {
  return randomBytes(32).toString('hex');
}

/** v1's text for a name already taken (HTTP 409). */
export function nameConflictMessage(name: string): string {
  return `Conflict: The name ${name} is already assigned. You have to delete (or rename) that container to be able to assign ${name} to a container again.`;
}

/** What a request holds on its node while its engine create is in flight (v1's pendingContainer). */
export function pendingContainer(request: ContainerRequest): ContainerSnapshot {
  return {
    id: request.labels[SWARM_ID_LABEL] ?? '',
    names: request.name ? [request.name] : [],
    image: request.image,
    state: 'pending',
    labels: { ...request.labels },
    cpus: request.cpus,
    memory: request.memory,
    portBindings: request.portBindings.map((b) => ({ ...b })),
    networkMode: request.networkMode,
    exposedPorts: [...request.exposedPorts],
  };
}

export interface SchedulerOptions {
  strategy: string;
  filters: string[];
  overcommit: number;
  /** Beyond v1 (--cluster-opt swarm.spread.running-only): spread's tie-break ignores stopped containers. */
  spreadRunningOnly?: boolean;
}

/** A chosen and reserved engine for one create (the Kubernetes framework's Reserve). */
export interface Placement {
  engine: Engine;
  /** The create body for that engine (CpuShares converted to its shares, swarm labels set). */
  body: JsonObject;
  /** Ends the reservation (Unreserve): once the engine answered, whatever it answered. Idempotent. */
  release: () => void;
}

export interface PlaceRequestOptions {
  /** Constraints for this placement only, not written to the container (rescheduling, retries, sessions). */
  constraints?: string[];
  /**
   * Only this node (its address), still judged by the filters. The name then need only be free on that
   * node: the copies of a global container share it, and the engine refuses a second.
   */
  node?: string;
}

export class Placer {
  /** Reservations of the creates in flight, per engine address: part of every placement's nodes. */
  private readonly pending = new Map<string, ContainerSnapshot[]>();
  private readonly options: PlaceOptions;

  constructor(
    readonly cluster: Cluster,
    opts: SchedulerOptions,
  ) {
    // Resolved once: an unknown name fails at start ("strategy not supported" / "filter not supported").
    this.options = {
      strategy: getStrategy(opts.strategy),
      filters: getFilters(opts.filters),
      overcommit: opts.overcommit,
      spreadCountsRunningOnly: opts.spreadRunningOnly ?? false,
    };
  }

  /** What every placement passes to the scheduler: the configured strategy, filters and options. */
  placeOptions(): PlaceOptions {
    return this.options;
  }

  /** The cluster's nodes as the scheduler sees them: the engine caches plus the reservations in flight. */
  nodes(): NodeSnapshot[] {
    const nodes = this.cluster.snapshot();
    if (this.pending.size === 0) return nodes;
    return nodes.map((n) => {
      const held = this.pending.get(n.addr);
      return held?.length ? { ...n, containers: [...n.containers, ...held] } : n;
    });
  }

  /** What the creates in flight hold on one engine (for `docker info` and the metrics). */
  reserved(addr: string): readonly ContainerSnapshot[] {
    return this.pending.get(addr) ?? [];
  }

  /** Whether a container name is taken anywhere in the cluster, creates in flight included (v1's checkNameUniqueness). */
  nameTaken(name: string): boolean {
    const n = name.replace(/^\//, '');
    if (this.cluster.nameTaken(n)) return true;
    for (const list of this.pending.values()) for (const c of list) if (c.names.includes(n)) return true;
    return false;
  }

  /**
   * Parses a create body (+ name) into a request, with a swarm ID and the implicit rules for where its
   * networks and volumes live; ApiError(400) for a body that is no object, 500 for a bad reschedule policy (v1).
   */
  prepare(body: unknown, name: string): ContainerRequest {
    let request = parseCreateRequest(body, name);
    const invalid = validateReschedulePolicies(request);
    if (invalid) throw new ApiError(500, invalid);
    if (!request.labels[SWARM_ID_LABEL]) request = withLabel(request, SWARM_ID_LABEL, newSwarmId());
    return applyLocalityRules(request, clusterLocality(this.cluster));
  }

  /**
   * Chooses the engine for a create and reserves the request there (name, memory, CPUs, ports), so
   * that every later placement sees it until `release`. Throws ApiError: 409 for a name taken, 500
   * with v1's texts when no node will do.
   *
   * The invariant that makes concurrent creates safe: the name check, the choice and the reservation
   * run in one synchronous call, with no `await` between them, so no other create can read the nodes
   * in between (JavaScript runs one callback at a time; v1 needed its scheduler lock for this). An
   * `await` here would let creates overbook a node or share a name: the concurrency test in
   * test/unit/manager/create-seam.test.ts fails then.
   */
  place(request: ContainerRequest, opts: PlaceRequestOptions = {}): Placement {
    if (request.name && opts.node === undefined && this.nameTaken(request.name)) throw new ApiError(409, nameConflictMessage(request.name));
    const all = this.nodes();
    const nodes = opts.node === undefined ? all : all.filter((n) => n.addr === opts.node);
    const constraints = opts.constraints ?? [];
    const scheduled = constraints.length ? { ...request, constraints: [...request.constraints, ...constraints] } : request;
    const node = this.chosen(observePlacement(() => placeContainer(nodes, scheduled, this.options)));
    const engine = this.engineOf(node);
    const reservation = pendingContainer(request);
    const list = this.pending.get(engine.addr) ?? [];
    list.push(reservation);
    this.pending.set(engine.addr, list);
    return { engine, body: engineCreateBody(request, node.totalCpus), release: () => this.release(engine.addr, reservation) };
  }

  private release(addr: string, reservation: ContainerSnapshot): void {
    const list = this.pending.get(addr);
    if (!list) return;
    const i = list.indexOf(reservation);
    if (i >= 0) list.splice(i, 1);
    // No empty lists left behind: views skip engines without reservations in flight.
    if (!list.length) this.pending.delete(addr);
  }

  /**
   * The request to retry with after an engine refused a create (v1's rules), or null.
   * `imageUnavailable`: the engine lacks the image (it said "No such image", or pulling it failed).
   */
  retryRequest(request: ContainerRequest, error: string, imageUnavailable: boolean): ContainerRequest | null {
    const nodes = this.nodes();
    const os = osMismatchRetry(request, error);
    if (os) return os;
    const affinity = imageAffinityRetry(request, error, nodes);
    if (affinity) return affinity;
    // The chosen engine lacks the image and it cannot (or may not) be pulled there: retried next to a
    // node that holds it (built or loaded there), as v1 does for "image not found"; beyond v1, also
    // after a failed pull (engines here often cannot reach a registry).
    if (imageUnavailable && request.image && !hasHardNodeConstraint(request) && clusterHasImage(nodes, request.image)) {
      if (request.affinities.includes(`image==${request.image}`)) return null;
      const withAffinity = addAffinity(request, `image==${request.image}`);
      return { ...withAffinity, labels: request.labels, config: request.config };
    }
    return null;
  }

  /**
   * The engine for a build (build args may carry constraints) or a call without config (an image
   * load), among the nodes `among` keeps. Nothing is reserved: v1 holds no pending entry for builds.
   */
  placeBuild(buildArgs: Record<string, string | null> = {}, resources = { cpus: 0, memory: 0 }, among?: (node: NodeSnapshot) => boolean): Engine {
    const nodes = among ? this.nodes().filter(among) : this.nodes();
    return this.engineOf(this.chosen(placeContainer(nodes, parseBuildRequest(buildArgs, resources), this.options)));
  }

  /**
   * The engine for an object placed by its labels (a network): `com.docker.swarm.constraints` /
   * `.affinities` / `.whitelists` as for containers, plus `softConstraints` unless a hard `node==` is given.
   */
  placeByLabels(labels: Record<string, string>, softConstraints: string[] = []): Engine {
    let request = parseCreateRequest({ Labels: labels });
    for (const c of softConstraints) if (!hasHardNodeConstraint(request)) request = addConstraint(request, c);
    return this.engineOf(this.chosen(placeContainer(this.nodes(), request, this.options)));
  }

  /**
   * Every healthy engine that passes the filters for an object placed by its labels, best first (a
   * volume). Drain is about containers: volumes ignore it.
   */
  everyByLabels(labels: Record<string, string>): Engine[] {
    const nodes = this.nodes().map((n) => (n.drained ? { ...n, drained: false } : n));
    const r = placeContainer(nodes, parseCreateRequest({ Labels: labels }), this.options);
    if (!r.ok) throw new ApiError(500, r.error.message);
    return r.ranked.map((x) => this.cluster.engines.get(x.node.addr)).filter((e): e is Engine => e !== undefined && e.isHealthy());
  }

  /**
   * Beyond v1: the engines that take a copy of a global container (scheduler/global.ts), in name order,
   * those holding a copy of `globalId` already left out. For a new one (no `globalId`), ApiError with
   * the scheduler's explanation when no node would.
   */
  placeGlobal(request: ContainerRequest, globalId = ''): Engine[] {
    const nodes = this.nodes();
    const placement = globalPlacement(nodes, request, this.options, globalId);
    if (globalId === '' && placement.targets.length === 0) throw new ApiError(500, noGlobalTargetMessage(nodes, request, placement, this.options));
    return placement.targets.map((n) => this.cluster.engines.get(n.addr)).filter((e): e is Engine => e !== undefined);
  }

  private chosen(r: PlaceResult): NodeSnapshot {
    if (!r.ok) throw new ApiError(500, r.error.message);
    return r.node;
  }

  private engineOf(node: NodeSnapshot): Engine {
    const engine = this.cluster.engines.get(node.addr);
    if (!engine) throw new ApiError(500, 'No nodes available in the cluster');
    return engine;
  }
}
