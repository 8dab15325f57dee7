/**
 * v1's constraint filter. Key `node`: the node's ID or name. Any other key: the value of that engine
 * label (built-ins storagedriver, kernelversion, operatingsystem, ostype, plus daemon `--label`s; a
 * missing label reads as '').
 */
import { compileExpression, formatExpression, parseExpressions } from '../expression';
import { ownValue } from '../lookup';
import type { Filter } from './filter';
import type { ExpressionRule } from './expression-filter';
import { applyExpressionRule } from './expression-filter';

const rule: ExpressionRule = {
  kind: 'constraint',
  texts: (request) => request.constraints,
  compile(expr) {
    const match = compileExpression(expr);
    if (expr.key === 'node') return (node) => match([node.id, node.name]);
    return (node) => match([ownValue(node.labels, expr.key) ?? '']);
  },
};

export const constraintFilter: Filter = {
  name: 'constraint',
  apply: (nodes, request, options) => applyExpressionRule(rule, nodes, request, options),
  conditions: (request) => parseExpressions(request.constraints).map(formatExpression),
};
