/**
 * Beyond v1: a container that uses a local object (a network that exists on some engines only) can run
 * only where that object is; elsewhere the engine refuses it (`network … not found`), after leaving a
 * created container behind. Always applied after the configured filters, in both passes, so a
 * placement that cannot work fails with the scheduler's explanation instead. Not selectable with
 * `--filter`; a request without `locality` keeps every node.
 */
import type { LocalityRequirement, NodeSnapshot } from '../types';
import type { Filter } from './filter';
import { partition } from './filter';

/** `node-1`, `node-1, node-2`, `node-1, node-2, node-3 and 4 more`. */
function nodeList(nodes: readonly string[], shown = 3): string {
  const head = nodes.slice(0, shown).join(', ');
  return nodes.length > shown ? `${head} and ${nodes.length - shown} more` : head;
}

/** `network n1net is local to node-1`: why a node without it is turned down. */
function localityReason(requirement: LocalityRequirement): string {
  return `${requirement.what} is local to ${nodeList(requirement.nodes)}`;
}

export const localityFilter: Filter = {
  name: 'locality',
  apply(nodes, request) {
    const rejected = new Map<string, string>();
    const requirements = request.locality ?? [];
    if (requirements.length === 0) return { kept: [...nodes], rejected };
    const holders = requirements.map((r) => new Set(r.nodes));
    const unmet = (n: NodeSnapshot) => requirements.filter((_, i) => !holders[i]!.has(n.name));
    const kept = partition(
      nodes,
      (n) => unmet(n).length === 0,
      (n) => unmet(n).map(localityReason).join(', '),
      rejected,
    );
    if (kept.length === 0 && nodes.length > 0) {
      return { kept, rejected, error: `unable to find a node holding ${requirements.map((r) => r.what).join(' and ')}` };
    }
    return { kept, rejected };
  },
  conditions(request) {
    return (request.locality ?? []).map((r) => `${r.what} (on ${nodeList(r.nodes)})`);
  },
};
