/** Where the cluster's networks and volumes live, from the engine caches, for the scheduler's locality rules. */
import type { Locality } from '../scheduler/index';
import type { Cluster } from './cluster';

export function clusterLocality(cluster: Cluster): Locality {
  const out: Locality = { nodes: [], networks: [], sharedNetworks: [], volumes: [] };
  for (const e of cluster.registered()) {
    out.nodes.push(e.name);
    for (const n of e.networks.values()) {
      if (n.Scope === 'local') out.networks.push({ node: e.name, name: n.Name, id: n.Id });
      else out.sharedNetworks.push(n.Name, n.Id);
    }
    for (const v of e.volumes.values()) out.volumes.push({ node: e.name, name: v.Name, driver: v.Driver });
  }
  return out;
}
