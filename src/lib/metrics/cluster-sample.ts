/**
 * What the cluster's gauges show at a scrape, read from the engines' caches: engines by state,
 * containers by node and state, each node's CPUs and memory (total and reserved, the numbers of
 * `docker info`), this manager's role and its event history.
 */
import { nodeView } from '../api/system';
import type { Placer } from '../manager/scheduling';

/** Docker's container states, all reported (0 included) so every node has the same series. */
const CONTAINER_STATES = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'] as const;

interface NodeSample {
  name: string;
  containers: Record<string, number>;
  cpus: number;
  reservedCpus: number;
  memory: number;
  reservedMemory: number;
}

export interface ClusterSample {
  engines: Record<'pending' | 'healthy' | 'unhealthy', number>;
  /** Registered nodes (Healthy or Unhealthy). */
  nodes: NodeSample[];
  role: 'primary' | 'replica';
  eventHistory: number;
  eventListeners: number;
}

/** The sample of `placer`'s cluster, its reservations of creates in flight counted as reserved. */
export function sampleCluster(placer: Placer, role: 'primary' | 'replica', eventListeners: number): ClusterSample {
  const cluster = placer.cluster;
  const engines = { pending: 0, healthy: 0, unhealthy: 0 };
  const nodes: NodeSample[] = [];
  for (const e of cluster.all()) {
    if (e.state === 'disconnected') continue;
    engines[e.state]++;
    if (e.state === 'pending') continue;
    const counts: Record<string, number> = {};
    for (const s of CONTAINER_STATES) counts[s] = 0;
    for (const c of e.containers.values()) {
      const state = c.inspect?.State?.Status ?? c.summary?.State ?? 'created';
      counts[state] = (counts[state] ?? 0) + 1;
    }
    const view = nodeView(e, [...placer.reserved(e.addr)]);
    nodes.push({
      name: e.name || e.addr,
      containers: counts,
      cpus: view.totalCpus,
      reservedCpus: view.reservedCpus,
      memory: view.totalMemory,
      reservedMemory: view.reservedMemory,
    });
  }
  return { engines, nodes, role, eventHistory: cluster.events.size, eventListeners };
}
