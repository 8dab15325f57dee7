/**
 * The seam between the API and the scheduler (src/lib/scheduler): the API asks a Placer where a
 * create (or a build, a network) goes and what body to send; the Placer works on a pure node
 * snapshot. New filters and strategies change the scheduler module, never the API.
 */
import { randomBytes } from 'node:crypto';
import {
  addAffinity,
  addConstraint,
  applyLocalityRules,
  clusterHasImage,
  engineCreateBody,
  hasHardNodeConstraint,
  imageAffinityRetry,
  osMismatchRetry,
  getFilters,
  getStrategy,
  globalPlacement,
  noGlobalTargetMessage,
  parseBuildRequest,
  parseCreateRequest,
  pendingContainer,
  placeContainer,
  RequestError,
  SWARM_ID_LABEL,
  validateReschedulePolicies,
  withLabel,
  type ContainerRequest,
  type ContainerSnapshot,
  type GlobalPlacement,
  type JsonObject,
  type Locality,
  type NodeSnapshot,
  type PlaceOptions,
} from '../scheduler/index';
import { observePlacement } from '../metrics/metrics';

export class PlacementError extends Error {
  constructor(
    message: string,
    readonly status = 500,
  ) {
    super(message);
  }
}

export interface Placement {
  node: NodeSnapshot;
  /** The create body for the chosen engine (CpuShares converted to shares, swarm labels set). */
  engineBody: JsonObject;
  /** What the node holds for this create until the engine answers. */
  reservation: ContainerSnapshot;
}

export interface Placer {
  /**
   * Parses a create body (+ name) into a request, with the implicit rules for where its networks and
   * volumes live; throws PlacementError(400) when invalid.
   */
  prepare(body: unknown, name: string, locality?: Locality): ContainerRequest;
  /**
   * Chooses a node for a prepared request; throws PlacementError with v1's texts. `constraints` apply
   * to this placement only: they are not written to the container's labels.
   */
  place(nodes: NodeSnapshot[], request: ContainerRequest, constraints?: string[]): Placement;
  /**
   * The request to retry with after an engine refused a create (v1's rules), or null.
   * `imageUnavailable`: the engine lacks the image (it said "No such image", or pulling it failed).
   */
  retryRequest(request: ContainerRequest, error: string, nodes: NodeSnapshot[], imageUnavailable: boolean): ContainerRequest | null;
  /** prepare + place. */
  placeContainer(nodes: NodeSnapshot[], body: unknown, name: string): Placement;
  /** Chooses a node for a build (build args may carry constraints) or an object without config. */
  pickNode(nodes: NodeSnapshot[], resources?: { cpus: number; memory: number }, buildArgs?: Record<string, string | null>): NodeSnapshot;
  /**
   * Chooses a node for an object placed by its labels (a network): `com.docker.swarm.constraints` /
   * `.affinities` / `.whitelists` as for containers, plus `softConstraints` unless a hard `node==` is given.
   */
  pickNodeForLabels(nodes: NodeSnapshot[], labels: Record<string, string>, softConstraints?: string[]): NodeSnapshot;
  /** Every node that passes the filters for an object placed by its labels, best first (a volume). */
  nodesForLabels(nodes: NodeSnapshot[], labels: Record<string, string>): NodeSnapshot[];
  /**
   * Beyond v1: the nodes that would take a copy of a global container (scheduler/global.ts), those
   * holding one of `globalId` already left out. For a new one (no `globalId`), throws
   * PlacementError with the scheduler's explanation when no node would.
   */
  placeGlobal(nodes: NodeSnapshot[], request: ContainerRequest, globalId?: string): GlobalPlacement;
}

export function newSwarmId(): string {
  return randomBytes(32).toString('hex');
}

export interface SchedulerOptions {
  strategy: string;
  filters: string[];
  overcommit: number;
  /** Beyond v1 (--cluster-opt swarm.spread.running-only): spread's tie-break ignores stopped containers. */
  spreadRunningOnly?: boolean;
}

/** Filters → strategy over the snapshot, with pending reservations already on the nodes. */
export class SchedulerPlacer implements Placer {
  constructor(readonly opts: SchedulerOptions) {
    // Fail early on unknown names ("strategy not supported" / "filter not supported").
    getStrategy(opts.strategy);
    getFilters(opts.filters);
  }

  /** What every placement passes to the scheduler: the configured strategy, filters and options. */
  placeOptions(): PlaceOptions {
    return {
      strategy: this.opts.strategy,
      filters: this.opts.filters,
      overcommit: this.opts.overcommit,
      spreadCountsRunningOnly: this.opts.spreadRunningOnly ?? false,
    };
  }

  prepare(body: unknown, name: string, locality?: Locality): ContainerRequest {
    let request;
    try {
      request = parseCreateRequest(body, name);
    } catch (err) {
      if (err instanceof RequestError) throw new PlacementError(err.message, 400);
      throw err;
    }
    const invalid = validateReschedulePolicies(request);
    if (invalid) throw new PlacementError(invalid);
    if (!request.labels[SWARM_ID_LABEL]) request = withLabel(request, SWARM_ID_LABEL, newSwarmId());
    return locality ? applyLocalityRules(request, locality) : request;
  }

  place(nodes: NodeSnapshot[], request: ContainerRequest, constraints: string[] = []): Placement {
    const scheduled = constraints.length ? { ...request, constraints: [...request.constraints, ...constraints] } : request;
    const r = observePlacement(() => placeContainer(nodes, scheduled, this.placeOptions()));
    if (!r.ok) throw new PlacementError(r.error.message);
    return { node: r.node, engineBody: engineCreateBody(request, r.node.totalCpus), reservation: pendingContainer(request, '') };
  }

  retryRequest(request: ContainerRequest, error: string, nodes: NodeSnapshot[], imageUnavailable: boolean): ContainerRequest | null {
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

  placeContainer(nodes: NodeSnapshot[], body: unknown, name: string): Placement {
    return this.place(nodes, this.prepare(body, name));
  }

  /** The request an object placed by its labels stands for (its swarm expressions), or a 400. */
  private requestFromLabels(labels: Record<string, string>): ContainerRequest {
    try {
      return parseCreateRequest({ Labels: labels });
    } catch (err) {
      if (err instanceof RequestError) throw new PlacementError(err.message, 400);
      throw err;
    }
  }

  pickNodeForLabels(nodes: NodeSnapshot[], labels: Record<string, string>, softConstraints: string[] = []): NodeSnapshot {
    let request = this.requestFromLabels(labels);
    for (const c of softConstraints) if (!hasHardNodeConstraint(request)) request = addConstraint(request, c);
    const r = placeContainer(nodes, request, this.placeOptions());
    if (!r.ok) throw new PlacementError(r.error.message);
    return r.node;
  }

  nodesForLabels(nodes: NodeSnapshot[], labels: Record<string, string>): NodeSnapshot[] {
    const request = this.requestFromLabels(labels);
    const r = placeContainer(nodes, request, this.placeOptions());
    if (!r.ok) throw new PlacementError(r.error.message);
    return r.ranked.map((x) => x.node);
  }

  placeGlobal(nodes: NodeSnapshot[], request: ContainerRequest, globalId = ''): GlobalPlacement {
    const placement = globalPlacement(nodes, request, this.placeOptions(), globalId);
    if (globalId === '' && placement.targets.length === 0) throw new PlacementError(noGlobalTargetMessage(nodes, request, placement, this.placeOptions()));
    return placement;
  }

  pickNode(nodes: NodeSnapshot[], resources = { cpus: 0, memory: 0 }, buildArgs: Record<string, string | null> = {}): NodeSnapshot {
    const request = parseBuildRequest(buildArgs, resources);
    const r = placeContainer(nodes, request, this.placeOptions());
    if (!r.ok) throw new PlacementError(r.error.message);
    return r.node;
  }
}
