/**
 * Finding a container or an image on node snapshots, by the rules of reference.ts (v1's
 * cluster.Containers.Get and cluster.Image.Match).
 */
import { imageMatches, isNodeRef, lookupContainer, SHORT_ID_LENGTH, type ContainerKeys } from './reference';
import { SWARM_ID_LABEL } from './request';
import type { ContainerSnapshot, NodeSnapshot } from './types';

function swarmIdOf(c: ContainerSnapshot): string {
  return ownValue(c.labels, SWARM_ID_LABEL) ?? '';
}

/** The lookup's keys over one node's containers: a scan each (a node holds few). */
function snapshotKeys(node: NodeSnapshot): ContainerKeys<ContainerSnapshot> {
  const containers = node.containers;
  const named = (name: string) => containers.filter((c) => c.names.includes(name));
  return {
    withId: (id) => containers.find((c) => c.id === id),
    withIdPrefix: (prefix) => containers.filter((c) => c.id.startsWith(prefix)),
    withSwarmId: (sid) => containers.filter((c) => swarmIdOf(c) === sid),
    withShortSwarmId: (short) => containers.filter((c) => swarmIdOf(c) !== '' && swarmIdOf(c).slice(0, SHORT_ID_LENGTH) === short),
    named,
    namedOnNode: (ref, name) => (isNodeRef(node, ref) ? named(name) : []),
    swarmIdsWithPrefix: (prefix) => new Set(containers.map(swarmIdOf).filter((sid) => sid !== '' && sid.startsWith(prefix))),
    // One node: its copies are equally live.
    liveCopy: (copies) => copies[0]!,
  };
}

/** The container `idOrName` designates on `node` (reference.ts lookupContainer); undefined when none or ambiguous. */
export function findContainer(node: NodeSnapshot, idOrName: string): ContainerSnapshot | undefined {
  return lookupContainer(snapshotKeys(node), idOrName);
}

/** True when some node holds an image matching `ref` (v1's `c.Image(config.Image) != nil`). */
export function clusterHasImage(nodes: readonly NodeSnapshot[], ref: string): boolean {
  return nodes.some((n) => n.images.some((i) => imageMatches(i, ref)));
}

/** `record[key]` for own keys only (so `constructor` or `__proto__` never reads the prototype). */
export function ownValue(record: Record<string, string>, key: string): string | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
