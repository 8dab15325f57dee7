/**
 * Where the cluster's networks and volumes live, from the engine caches, for the scheduler's locality
 * rules. Engines replace their network and volume maps when they change, so the view is rebuilt only
 * when an engine's maps, its name or the set of registered engines changed, not on every create.
 */
import type { Engine } from '../engine/engine';
import type { Locality } from '../scheduler/index';
import type { Cluster } from './cluster';

interface Built {
  /** What the view was built from, engine by engine: [engine, name, networks, volumes]. */
  from: [Engine, string, Engine['networks'], Engine['volumes']][];
  locality: Locality;
}

const built = new WeakMap<Cluster, Built>();

function unchanged(b: Built, engines: Engine[]): boolean {
  if (b.from.length !== engines.length) return false;
  for (let i = 0; i < engines.length; i++) {
    const e = engines[i]!;
    const [was, name, networks, volumes] = b.from[i]!;
    if (was !== e || name !== e.name || networks !== e.networks || volumes !== e.volumes) return false;
  }
  return true;
}

export function clusterLocality(cluster: Cluster): Locality {
  const engines = cluster.registered();
  const hit = built.get(cluster);
  if (hit && unchanged(hit, engines)) return hit.locality;
  const out: Locality = { nodes: [], networks: [], sharedNetworks: [], volumes: [] };
  for (const e of engines) {
    out.nodes.push(e.name);
    for (const n of e.networks.values()) {
      if (n.Scope === 'local') out.networks.push({ node: e.name, name: n.Name, id: n.Id });
      else out.sharedNetworks.push(n.Name, n.Id);
    }
    for (const v of e.volumes.values()) out.volumes.push({ node: e.name, name: v.Name, driver: v.Driver });
  }
  built.set(cluster, { from: engines.map((e) => [e, e.name, e.networks, e.volumes]), locality: out });
  return out;
}
