/** v1's health filter: only nodes with healthIndicator > 0 (Healthy and below the failure threshold). */
import type { Filter } from './filter';
import { partition } from './filter';

const NO_HEALTHY_NODE = 'No healthy node available in the cluster';

export const healthFilter: Filter = {
  name: 'health',
  apply(nodes) {
    const rejected = new Map<string, string>();
    const kept = partition(nodes, (n) => n.healthIndicator > 0, () => 'unhealthy', rejected);
    return kept.length === 0 ? { kept, rejected, error: NO_HEALTHY_NODE } : { kept, rejected };
  },
  conditions() {
    return [];
  },
};
