/**
 * The filter contract. A filter narrows the candidate nodes for one request and says, per node it drops,
 * why: that is what lets placement errors explain themselves beyond v1's text.
 */
import type { ContainerRequest, NodeSnapshot } from '../types';

export interface FilterOptions {
  /** Pass 2 of v1's scheduling: soft (`~`) expressions are skipped. */
  ignoreSoft: boolean;
}

export interface FilterResult {
  kept: NodeSnapshot[];
  /** Node ID → human-readable reason, for every node this filter dropped. */
  rejected: Map<string, string>;
  /**
   * Set when the filter fails the way v1's does (one of its rules left no node, or an expression did not
   * parse): the filter's own error text. The scheduler then reports v1's combined message.
   */
  error?: string;
}

export interface Filter {
  /** v1's name (`health`, `port`, ...), as `--filter` takes it. */
  readonly name: string;
  apply(nodes: readonly NodeSnapshot[], request: ContainerRequest, options: FilterOptions): FilterResult;
  /**
   * v1's GetFilters: the conditions this filter checks for `request`, listed in the combined error as
   * `[a b c]`. Throws (ExpressionError) when the request's expressions do not parse.
   */
  conditions(request: ContainerRequest): string[];
}

/** Splits `nodes` with `keep`, recording `reason(node)` for each dropped node. */
export function partition(
  nodes: readonly NodeSnapshot[],
  keep: (node: NodeSnapshot) => boolean,
  reason: (node: NodeSnapshot) => string,
  rejected: Map<string, string>,
): NodeSnapshot[] {
  const kept: NodeSnapshot[] = [];
  for (const node of nodes) {
    if (keep(node)) kept.push(node);
    else rejected.set(node.id, reason(node));
  }
  return kept;
}
