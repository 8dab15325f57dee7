/**
 * Pending reservations (v1's pendingContainers): between choosing a node and the engine's create
 * returning, the container is held on the node as a `pending` ContainerSnapshot with its memory, CPUs,
 * ports and name, so concurrent creates see it: no overbooking of memory, CPUs or host ports, no
 * duplicate names. Plus v1's cluster-wide name check.
 */
import { SWARM_ID_LABEL } from './request';
import type { ContainerRequest, ContainerSnapshot, NodeSnapshot } from './types';

/** v1's text for a name already taken (HTTP 409). */
export function nameConflictMessage(name: string): string {
  return `Conflict: The name ${name} is already assigned. You have to delete (or rename) that container to be able to assign ${name} to a container again.`;
}

/** The snapshot a request holds on its node while pending. */
export function pendingContainer(request: ContainerRequest, id: string): ContainerSnapshot {
  return {
    id,
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

/** A copy of `node` that also holds `container` (the input is not modified). */
export function addPendingContainer(node: NodeSnapshot, container: ContainerSnapshot): NodeSnapshot {
  return { ...node, containers: [...node.containers, container] };
}

function bare(name: string): string {
  return name.replace(/^\//, '');
}

/**
 * v1's checkNameUniqueness across every node's containers (pending ones included when `nodes` went
 * through Reservations.apply) and any `extraNames`. Returns the conflict text, or null when the name
 * is free (an empty name always is).
 */
export function checkNameAvailable(
  nodes: readonly NodeSnapshot[],
  name: string,
  extraNames: Iterable<string> = [],
): string | null {
  const wanted = bare(name);
  if (wanted === '') return null;
  for (const node of nodes) {
    for (const c of node.containers) {
      if (c.names.some((n) => bare(n) === wanted)) return nameConflictMessage(wanted);
    }
  }
  for (const n of extraNames) if (bare(n) === wanted) return nameConflictMessage(wanted);
  return null;
}

export interface Reservation {
  id: string;
  nodeId: string;
  container: ContainerSnapshot;
}

/**
 * The pending reservations of one manager. Usage, under the manager's scheduling lock:
 * `nodes = reservations.apply(snapshots)`, check the name, `placeContainer(nodes, ...)`,
 * `reservations.reserve(chosen.id, request)`; release the lock, create on the engine, then
 * `reservations.release(id)` whatever the outcome.
 */
export class Reservations {
  private readonly pending = new Map<string, Reservation>();
  private counter = 0;

  /**
   * Holds `request` on node `nodeId`. The reservation ID is `id`, else the request's com.docker.swarm.id
   * label, else a generated `pending-<n>`. Reserving an ID again replaces the earlier reservation.
   */
  reserve(nodeId: string, request: ContainerRequest, id?: string): string {
    const swarmId = Object.hasOwn(request.labels, SWARM_ID_LABEL) ? request.labels[SWARM_ID_LABEL] : undefined;
    const key = id ?? (swarmId || `pending-${++this.counter}`);
    this.pending.set(key, { id: key, nodeId, container: pendingContainer(request, key) });
    return key;
  }

  /** Drops a reservation; false when there was none. */
  release(id: string): boolean {
    return this.pending.delete(id);
  }

  get size(): number {
    return this.pending.size;
  }

  list(): Reservation[] {
    return [...this.pending.values()];
  }

  /** Names held by pending creates (for the name check even when their node is not in the snapshot). */
  names(): string[] {
    return this.list().flatMap((r) => r.container.names);
  }

  /**
   * Copies of `nodes` with each node's pending containers added. A reservation whose container the
   * engine cache already lists (same ID, or same com.docker.swarm.id) is not added twice.
   */
  apply(nodes: readonly NodeSnapshot[]): NodeSnapshot[] {
    if (this.pending.size === 0) return [...nodes];
    const byNode = new Map<string, ContainerSnapshot[]>();
    for (const r of this.pending.values()) {
      const list = byNode.get(r.nodeId);
      if (list) list.push(r.container);
      else byNode.set(r.nodeId, [r.container]);
    }
    return nodes.map((node) => {
      const extra = byNode.get(node.id);
      if (!extra) return node;
      const known = new Set<string>();
      for (const c of node.containers) {
        known.add(c.id);
        const swarmId = Object.hasOwn(c.labels, SWARM_ID_LABEL) ? c.labels[SWARM_ID_LABEL] : undefined;
        if (swarmId) known.add(swarmId);
      }
      const add = extra.filter((c) => !known.has(c.id));
      return add.length === 0 ? node : { ...node, containers: [...node.containers, ...add] };
    });
  }
}
