/** The filter registry: v1's seven filters by name, in v1's default order, plus the drain filter. */
import { affinityFilter } from './affinity';
import { constraintFilter } from './constraint';
import { containerSlotsFilter } from './containerslots';
import { dependencyFilter } from './dependency';
import type { Filter } from './filter';
import { healthFilter } from './health';
import { portFilter } from './port';
import { whitelistFilter } from './whitelist';

export type { Filter } from './filter';
export { affinityFilter } from './affinity';
export { constraintFilter } from './constraint';
export { containerSlotsFilter } from './containerslots';
export { dependencyFilter } from './dependency';
export { drainFilter } from './drain';
export { healthFilter } from './health';
export { localityFilter } from './locality';
export { portFilter } from './port';
export { whitelistFilter } from './whitelist';

/** `--filter` default: all seven, in this order. */
export const DEFAULT_FILTERS: readonly string[] = [
  'health',
  'port',
  'containerslots',
  'dependency',
  'affinity',
  'constraint',
  'whitelist',
];

const FILTERS: ReadonlyMap<string, Filter> = new Map(
  [healthFilter, portFilter, containerSlotsFilter, dependencyFilter, affinityFilter, constraintFilter, whitelistFilter].map(
    (f) => [f.name, f] as const,
  ),
);

/** v1's error for an unknown `--filter` name. */
export const FILTER_NOT_SUPPORTED = 'filter not supported';

/** The filters named (default: all seven), in the order given; an unknown name throws "filter not supported". */
export function getFilters(names: readonly string[] = DEFAULT_FILTERS): Filter[] {
  return names.map((name) => {
    const filter = FILTERS.get(name);
    if (!filter) throw new Error(FILTER_NOT_SUPPORTED);
    return filter;
  });
}

/** Names `--filter` accepts. */
export function filterNames(): string[] {
  return [...FILTERS.keys()];
}
