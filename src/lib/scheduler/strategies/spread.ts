/**
 * v1's spread strategy (default): health factor −10, ascending weight (healthiest, then least loaded),
 * ties broken by fewer containers. Beyond v1, `spreadCountsRunningOnly` makes the tie-break ignore
 * stopped containers.
 */
import type { Strategy } from './strategy';
import { DEFAULT_OVERCOMMIT } from '../resources';
import { byWeightThenCount, containerCount, NO_RESOURCES, weighNodes } from './strategy';

export const spreadStrategy: Strategy = {
  name: 'spread',
  rank(nodes, request, options = {}) {
    const result = weighNodes(nodes, request, -10, options.overcommit ?? DEFAULT_OVERCOMMIT);
    if (!result.ok) return { ok: false, error: NO_RESOURCES, rejected: result.rejected };
    const runningOnly = options.spreadCountsRunningOnly ?? false;
    return { ok: true, ranked: byWeightThenCount(result.weighed, (node) => containerCount(node, runningOnly), 1) };
  },
};
