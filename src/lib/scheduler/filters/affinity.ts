/**
 * v1's affinity filter. Key `container`: IDs and (first) names of the node's containers. Key `image`:
 * the node's image IDs, repo:tags and bare repository names. Any other key: the values of that label on
 * the node's containers (a container without it contributes '').
 */
import { compileExpression, formatExpressionWithSoft, parseExpressions } from '../expression';
import { ownValue } from '../lookup';
import { parseRepositoryTag } from '../reference';
import type { NodeSnapshot } from '../types';
import type { Filter } from './filter';
import type { ExpressionRule } from './expression-filter';
import { applyExpressionRule } from './expression-filter';

function containerCandidates(node: NodeSnapshot): string[] {
  const out: string[] = [];
  for (const c of node.containers) {
    const first = c.names[0];
    if (first !== undefined) out.push(c.id, first.replace(/^\//, ''));
  }
  return out;
}

function imageCandidates(node: NodeSnapshot): string[] {
  const out: string[] = [];
  for (const image of node.images) {
    out.push(image.id, ...image.repoTags);
    for (const tag of image.repoTags) out.push(parseRepositoryTag(tag)[0]);
  }
  return out;
}

const rule: ExpressionRule = {
  kind: 'affinity',
  texts: (request) => request.affinities,
  compile(expr) {
    const match = compileExpression(expr);
    if (expr.key === 'container') return (node) => match(containerCandidates(node));
    if (expr.key === 'image') return (node) => match(imageCandidates(node));
    return (node) => match(node.containers.map((c) => ownValue(c.labels, expr.key) ?? ''));
  },
};

export const affinityFilter: Filter = {
  name: 'affinity',
  apply: (nodes, request, options) => applyExpressionRule(rule, nodes, request, options),
  conditions: (request) => parseExpressions(request.affinities).map(formatExpressionWithSoft),
};
