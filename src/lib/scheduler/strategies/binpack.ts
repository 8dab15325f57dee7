/**
 * v1's binpack strategy (alias `binpacking`): health factor +10, descending weight (healthiest, then the
 * most loaded node that still fits), ties broken by more containers: fills one node before the next.
 */
import type { Strategy } from './strategy';
import { DEFAULT_OVERCOMMIT } from '../resources';
import { byWeightThenCount, NO_RESOURCES, weighNodes } from './strategy';

export const binpackStrategy: Strategy = {
  name: 'binpack',
  rank(nodes, request, options = {}) {
    const result = weighNodes(nodes, request, 10, options.overcommit ?? DEFAULT_OVERCOMMIT);
    if (!result.ok) return { ok: false, error: NO_RESOURCES, rejected: result.rejected };
    return { ok: true, ranked: byWeightThenCount(result.weighed, (node) => node.containers.length, -1) };
  },
};
