/**
 * v1's whitelist filter: the value split on `|` is a list of exact node names; only those nodes are kept.
 * Key and operator are ignored; a soft (`~`) whitelist is skipped in pass 2.
 */
import { formatExpressionWithSoft, parseExpressions } from '../expression';
import type { Filter } from './filter';
import type { ExpressionRule } from './expression-filter';
import { applyExpressionRule } from './expression-filter';

const rule: ExpressionRule = {
  kind: 'whitelist',
  texts: (request) => request.whitelists,
  compile(expr) {
    const names = new Set(expr.value.split('|'));
    return (node) => names.has(node.name);
  },
};

export const whitelistFilter: Filter = {
  name: 'whitelist',
  apply: (nodes, request, options) => applyExpressionRule(rule, nodes, request, options),
  conditions: (request) => parseExpressions(request.whitelists).map(formatExpressionWithSoft),
};
