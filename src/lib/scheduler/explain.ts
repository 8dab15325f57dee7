/**
 * Beyond v1: why each node was turned down, in the spirit of Kubernetes' "0/3 nodes are available: ...".
 * Nodes sharing a reason are grouped so a 1,000-node cluster still yields one short line:
 * `0/1000 nodes are available: 1000 nodes: port 80 in use (node-1, node-2, node-3 and 997 more)`.
 */
import type { NodeSnapshot } from './types';

export interface ExplainOptions {
  /** Node names shown per group before "and N more" (default 3). */
  namesPerGroup?: number;
  /** Groups shown before "and N more reasons" (default 8). */
  maxGroups?: number;
}

/** Groups `rejected` (node ID → reason) by reason, largest group first, ties in node order. */
export function explainRejections(
  nodes: readonly NodeSnapshot[],
  rejected: ReadonlyMap<string, string>,
  options: ExplainOptions = {},
): string {
  const namesPerGroup = options.namesPerGroup ?? 3;
  const maxGroups = options.maxGroups ?? 8;
  const groups = new Map<string, string[]>();
  let rejectedCount = 0;
  for (const node of nodes) {
    const reason = rejected.get(node.id);
    if (reason === undefined) continue;
    rejectedCount++;
    const names = groups.get(reason);
    const name = node.name || node.id;
    if (names) names.push(name);
    else groups.set(reason, [name]);
  }
  const ordered = [...groups.entries()].sort((a, b) => b[1].length - a[1].length);
  const parts = ordered.slice(0, maxGroups).map(([reason, names]) => {
    if (names.length === 1) return `${names[0]}: ${reason}`;
    const shown = names.slice(0, namesPerGroup).join(', ');
    const more = names.length - namesPerGroup;
    return `${names.length} nodes: ${reason} (${shown}${more > 0 ? ` and ${more} more` : ''})`;
  });
  const hidden = ordered.slice(maxGroups);
  if (hidden.length > 0) {
    const hiddenNodes = hidden.reduce((sum, [, names]) => sum + names.length, 0);
    parts.push(`${hidden.length} more reasons on ${hiddenNodes} nodes`);
  }
  const available = nodes.length - rejectedCount;
  return `${available}/${nodes.length} nodes are available${parts.length > 0 ? `: ${parts.join('; ')}` : ''}`;
}
