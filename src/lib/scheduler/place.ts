/**
 * Choosing nodes for one container, as Swarm v1's scheduler does (scheduler/scheduler.go,
 * filter/filter.go): pass 1 applies the drain rule, then the enabled filters in order with soft
 * expressions, then the strategy; if anything fails, pass 2 does the same ignoring soft expressions.
 * Errors carry v1's exact text first, then an explanation naming why each node was turned down.
 */
import { explainRejections } from './explain';
import type { ExplainOptions } from './explain';
import { ExpressionError, parseExpression } from './expression';
import type { Filter } from './filters/filter';
import { drainFilter } from './filters/drain';
import { localityFilter } from './filters/locality';
import { getFilters } from './filters/index';
import { getStrategy } from './strategies/index';
import type { RankedNode, Strategy, StrategyOptions } from './strategies/strategy';
import type { ContainerRequest, NodeSnapshot } from './types';

const NO_NODES_AVAILABLE = 'No nodes available in the cluster';
const UNSATISFIED_PREFIX = 'Unable to find a node that satisfies the following conditions';

export interface PlaceOptions extends StrategyOptions {
  /** A strategy or its name (default `spread`). */
  strategy?: string | Strategy;
  /** Enabled filters or their names, in order (default: v1's seven). */
  filters?: readonly (string | Filter)[];
  /** Grouping of the explanation. */
  explain?: ExplainOptions;
}

type PlaceFailureKind = 'no-healthy-node' | 'unsatisfied' | 'no-nodes' | 'no-resources';

/** Why no node takes a request: plain data, which the manager's Placer turns into an ApiError. */
export interface PlaceFailure {
  kind: PlaceFailureKind;
  /** v1's text, then (when there are nodes) a newline and the explanation. */
  message: string;
  /** v1's exact text alone. */
  v1Message: string;
  /** `0/3 nodes are available: ...`; '' for an empty cluster. */
  explanation: string;
  /** Node ID → reason, for every node turned down in the pass that produced the error. */
  rejected: Map<string, string>;
  /** The filter that failed (`drain` included), or undefined for strategy / empty-list errors. */
  filter?: string;
}

/** placeContainer's answer: the ranked nodes, or why none will do. */
export type PlaceResult =
  | {
      ok: true;
      /** Best first; the container goes to `ranked[0]`. */
      ranked: RankedNode[];
      node: NodeSnapshot;
      /** True when pass 1 failed and soft expressions had to be ignored. */
      softIgnored: boolean;
      /** Node ID → reason for nodes turned down in the pass that succeeded. */
      rejected: Map<string, string>;
    }
  | { ok: false; error: PlaceFailure };

type PassResult =
  | { ok: true; ranked: RankedNode[]; rejected: Map<string, string> }
  | { ok: false; kind: PlaceFailureKind; v1Message: string; rejected: Map<string, string>; filter?: string };

/** v1's listAllFilters: one `[a b]` line per filter up to and including the failing one. */
function listConditions(filters: readonly Filter[], request: ContainerRequest, lastFilter: string): string {
  let out = '';
  for (const filter of filters) {
    try {
      const list = filter.conditions(request);
      if (list.length > 0) out += `\n[${list.join(' ')}]`;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      out += `\nerror from ${filter.name} filter: ${message}`;
    }
    if (filter.name === lastFilter) break;
  }
  return out;
}

/**
 * One pass of the pipeline, wired here and nowhere else, in this order:
 * 1. drain: a node in maintenance takes nothing, whatever the request (and says so, rather than
 *    failing some later filter);
 * 2. the configured filters, in `--filter` order, as v1 runs them: each sees only the nodes the ones
 *    before it kept, and the first to keep none is the error v1 reports, with the conditions of the
 *    filters up to it (listConditions), so the order is visible to users;
 * 3. then the strategy ranks what is left: resources are judged only on nodes every rule accepts,
 *    and "no resources" is the answer only when every filter passed.
 * The locality rule (beyond v1) is appended to the filters by placeContainer: last, so v1's own
 * filters keep v1's texts.
 */
function runPass(
  nodes: readonly NodeSnapshot[],
  request: ContainerRequest,
  filters: readonly Filter[],
  strategy: Strategy,
  options: PlaceOptions,
  ignoreSoft: boolean,
): PassResult {
  const rejected = new Map<string, string>();
  const drained = drainFilter.apply(nodes, request, { ignoreSoft });
  for (const [id, reason] of drained.rejected) rejected.set(id, reason);
  if (nodes.length > 0 && drained.kept.length === 0) {
    return { ok: false, kind: 'no-nodes', v1Message: NO_NODES_AVAILABLE, rejected, filter: drainFilter.name };
  }
  let candidates = drained.kept;
  for (const filter of filters) {
    const result = filter.apply(candidates, request, { ignoreSoft });
    for (const [id, reason] of result.rejected) rejected.set(id, reason);
    if (result.error !== undefined) {
      if (filter.name === 'health') {
        return { ok: false, kind: 'no-healthy-node', v1Message: result.error, rejected, filter: filter.name };
      }
      const v1Message = `${UNSATISFIED_PREFIX} ${listConditions(filters, request, filter.name)}`;
      return { ok: false, kind: 'unsatisfied', v1Message, rejected, filter: filter.name };
    }
    candidates = result.kept;
  }
  if (candidates.length === 0) return { ok: false, kind: 'no-nodes', v1Message: NO_NODES_AVAILABLE, rejected };
  const ranked = strategy.rank(candidates, request, options);
  if (!ranked.ok) {
    for (const [id, reason] of ranked.rejected) rejected.set(id, reason);
    return { ok: false, kind: 'no-resources', v1Message: ranked.error, rejected };
  }
  return { ok: true, ranked: ranked.ranked, rejected };
}

/** Whether pass 2 could differ from pass 1: some expression is soft (or does not parse). */
function hasSoftExpressions(request: ContainerRequest): boolean {
  for (const text of [...request.constraints, ...request.affinities, ...request.whitelists]) {
    try {
      if (parseExpression(text).soft) return true;
    } catch (err) {
      if (!(err instanceof ExpressionError)) throw err;
    }
  }
  return false;
}

function resolveFilters(filters: PlaceOptions['filters']): Filter[] {
  if (filters === undefined) return getFilters();
  return filters.map((f) => (typeof f === 'string' ? getFilters([f])[0]! : f));
}

/**
 * Ranks the nodes that can take `request`, or says why none can. `nodes` must already include the
 * reservations of the creates in flight (the manager's Placer.nodes). Pure: the same inputs (and rng)
 * give the same answer.
 */
export function placeContainer(nodes: readonly NodeSnapshot[], request: ContainerRequest, options: PlaceOptions = {}): PlaceResult {
  // The locality rule is no v1 filter: it always runs, after the configured ones.
  const filters = [...resolveFilters(options.filters), localityFilter];
  const strategy = typeof options.strategy === 'object' ? options.strategy : getStrategy(options.strategy);

  let result = runPass(nodes, request, filters, strategy, options, false);
  let softIgnored = false;
  if (!result.ok && hasSoftExpressions(request)) {
    result = runPass(nodes, request, filters, strategy, options, true);
    softIgnored = true;
  }
  if (result.ok) {
    return { ok: true, ranked: result.ranked, node: result.ranked[0]!.node, softIgnored, rejected: result.rejected };
  }
  const explanation = nodes.length > 0 ? explainRejections(nodes, result.rejected, options.explain) : '';
  const error: PlaceFailure = {
    kind: result.kind,
    message: explanation ? `${result.v1Message}\n${explanation}` : result.v1Message,
    v1Message: result.v1Message,
    explanation,
    rejected: result.rejected,
  };
  if (result.filter !== undefined) error.filter = result.filter;
  return { ok: false, error };
}
