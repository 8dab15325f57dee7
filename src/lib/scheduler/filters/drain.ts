/**
 * Beyond v1 (its maintenance mode never shipped): a drained node keeps its containers but takes no new
 * ones. Always applied first, before the configured filters; not selectable with `--filter`.
 */
import type { Filter } from './filter';
import { partition } from './filter';

export const drainFilter: Filter = {
  name: 'drain',
  apply(nodes) {
    const rejected = new Map<string, string>();
    const kept = partition(nodes, (n) => !n.drained, () => 'drained', rejected);
    return { kept, rejected };
  },
  conditions() {
    return [];
  },
};
