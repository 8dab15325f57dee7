/**
 * What affinity, constraint and whitelist share: parse the request's expressions (a parse error fails the
 * filter), skip soft ones in pass 2, and narrow the nodes expression by expression (ANDed); the first
 * expression that leaves no node fails the filter.
 */
import type { Expression } from '../expression';
import { ExpressionError, parseExpressions } from '../expression';
import type { ContainerRequest, NodeSnapshot } from '../types';
import type { FilterOptions, FilterResult } from './filter';
import { partition } from './filter';

export interface ExpressionRule {
  /** `constraint`, `affinity`, `whitelist`: used in texts. */
  kind: string;
  texts(request: ContainerRequest): string[];
  /** A predicate for one parsed expression (compiled once per expression, run per node). */
  compile(expr: Expression): (node: NodeSnapshot) => boolean;
}

/** `key==value`, `key!=~value`: the expression as the user wrote it, for explanations. */
function displayExpression(expr: Expression): string {
  return `${expr.key}${expr.operator}${expr.soft ? '~' : ''}${expr.value}`;
}

export function applyExpressionRule(
  rule: ExpressionRule,
  nodes: readonly NodeSnapshot[],
  request: ContainerRequest,
  options: FilterOptions,
): FilterResult {
  const rejected = new Map<string, string>();
  let exprs: Expression[];
  try {
    exprs = parseExpressions(rule.texts(request));
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    for (const n of nodes) rejected.set(n.id, `invalid ${rule.kind}: ${err.message}`);
    return { kept: [], rejected, error: err.message };
  }
  let kept = [...nodes];
  for (const expr of exprs) {
    if (options.ignoreSoft && expr.soft) continue;
    const test = rule.compile(expr);
    const shown = displayExpression(expr);
    kept = partition(kept, test, () => `${rule.kind} ${shown} not met`, rejected);
    if (kept.length === 0) {
      return { kept, rejected, error: `unable to find a node that satisfies the ${rule.kind} ${shown}` };
    }
  }
  return { kept, rejected };
}
