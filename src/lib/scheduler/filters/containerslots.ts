/**
 * v1's containerslots filter: an engine labelled `containerslots=N` (an integer as Go's strconv.Atoi
 * reads it) takes a container only while it holds fewer than N containers, any state, pending included.
 * A missing or non-integer label means unlimited.
 */
import { ownValue } from '../lookup';
import type { NodeSnapshot } from '../types';
import type { Filter } from './filter';
import { partition } from './filter';

const NO_FREE_SLOTS = 'No node with enough open slots available in the cluster';

/** The slot limit of a node, or null when unlimited. */
function containerSlots(node: NodeSnapshot): number | null {
  const text = ownValue(node.labels, 'containerslots');
  if (text === undefined || !/^[+-]?\d+$/.test(text)) return null;
  const n = Number(text);
  // Atoi fails (⇒ unlimited) beyond int64.
  return Number.isSafeInteger(n) ? n : null;
}

export const containerSlotsFilter: Filter = {
  name: 'containerslots',
  apply(nodes) {
    const rejected = new Map<string, string>();
    const kept = partition(
      nodes,
      (n) => {
        const slots = containerSlots(n);
        return slots === null || n.containers.length < slots;
      },
      (n) => `all ${containerSlots(n)} container slots taken`,
      rejected,
    );
    return kept.length === 0 ? { kept, rejected, error: NO_FREE_SLOTS } : { kept, rejected };
  },
  conditions() {
    return ['available container slots'];
  },
};
