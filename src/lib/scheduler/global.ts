/**
 * Beyond v1 (classicswarm#601, #1708): global containers, one copy on every node that accepts the
 * request. Pure: which nodes would take a copy, judged node by node with the same drain rule, filters
 * and strategy resource check as any placement; the manager creates the copies (manager/global.ts).
 *
 * A node is judged on its own, so a soft expression (`==~`) never keeps a copy off a node: it only
 * says which node is preferred, and a global container goes to every node.
 */
import { explainRejections } from './explain';
import { placeContainer, type PlaceOptions } from './place';
import { GLOBAL_ENV_KEY, GLOBAL_ID_LABEL, GLOBAL_LABEL } from './request';
import type { ContainerRequest, ContainerSnapshot, NodeSnapshot } from './types';

const TRUE = ['true', '1', 'yes'];
const GLOBAL_ENV_PREFIX = `${GLOBAL_ENV_KEY}:`;
const FALSE = ['false', '0', 'no', ''];

/** The value of `com.docker.swarm.global` (or `-e global:`): true, false, or null when it is neither. */
export function parseGlobalValue(value: string | undefined): boolean | null {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  return null;
}

/**
 * Whether a create body asks for a global container: the label, or `-e global:<value>` (which wins,
 * as parseCreateRequest writes it over the label). An invalid value counts: validateGlobal refuses it.
 */
export function isGlobalCreateBody(body: unknown): boolean {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return false;
  const { Labels: labels, Env: env } = body as { Labels?: unknown; Env?: unknown };
  let value: string | undefined;
  if (typeof labels === 'object' && labels !== null) {
    const v: unknown = (labels as Record<string, unknown>)[GLOBAL_LABEL];
    if (typeof v === 'string') value = v;
  }
  if (Array.isArray(env)) for (const e of env) if (typeof e === 'string' && e.startsWith(GLOBAL_ENV_PREFIX)) value = e.slice(GLOBAL_ENV_PREFIX.length);
  return parseGlobalValue(value) !== false;
}

/** What is wrong with a global create, or null. */
export function validateGlobal(request: ContainerRequest): string | null {
  const value = request.labels[GLOBAL_LABEL];
  if (parseGlobalValue(value) === null) return `invalid value for ${GLOBAL_LABEL}: '${value}' (true or false)`;
  if (request.reschedulePolicies.some((p) => p !== 'off')) {
    return 'a global container cannot have a reschedule policy: it already runs on every node';
  }
  return null;
}

/** The global container a container is a copy of ('' for an ordinary container). */
export function globalIdOf(labels: Record<string, string> | undefined): string {
  if (!labels || parseGlobalValue(labels[GLOBAL_LABEL]) !== true) return '';
  return labels[GLOBAL_ID_LABEL] ?? '';
}

export interface GlobalPlacement {
  /** Nodes that would take a new copy, in name order (natural: node-2 before node-10). */
  targets: NodeSnapshot[];
  /** Nodes that hold a copy already (any state, creates in flight included). */
  holding: NodeSnapshot[];
  /** Node ID → why it takes no copy. */
  rejected: Map<string, string>;
}

const natural = new Intl.Collator('en', { numeric: true });

function holdsCopy(containers: readonly ContainerSnapshot[], globalId: string): boolean {
  return globalId !== '' && containers.some((c) => globalIdOf(c.labels) === globalId);
}

/**
 * Where the copies of a global container go: every node that accepts `request` on its own (drain
 * rule, the enabled filters, the strategy's resource check), except those already holding a copy of
 * `globalId` and those where another container has the copies' name (the engine would refuse it).
 */
export function globalPlacement(
  nodes: readonly NodeSnapshot[],
  request: ContainerRequest,
  options: PlaceOptions = {},
  globalId = '',
): GlobalPlacement {
  const out: GlobalPlacement = { targets: [], holding: [], rejected: new Map() };
  for (const node of nodes) {
    if (holdsCopy(node.containers, globalId)) {
      out.holding.push(node);
      continue;
    }
    if (request.name !== '' && node.containers.some((c) => c.names.includes(request.name))) {
      out.rejected.set(node.id, `name ${request.name} in use`);
      continue;
    }
    const r = placeContainer([node], request, options);
    if (r.ok) out.targets.push(node);
    else out.rejected.set(node.id, r.error.rejected.get(node.id) ?? r.error.v1Message);
  }
  out.targets.sort((a, b) => natural.compare(a.name, b.name) || natural.compare(a.id, b.id));
  return out;
}

/**
 * The error of a global create that no node accepts: the scheduler's own answer for the whole
 * cluster (v1's text first), or else the per-node explanation.
 */
export function noGlobalTargetMessage(nodes: readonly NodeSnapshot[], request: ContainerRequest, placement: GlobalPlacement, options: PlaceOptions = {}): string {
  const whole = placeContainer(nodes, request, options);
  if (!whole.ok) return whole.error.message;
  return `No node accepts the global container\n${explainRejections(nodes, placement.rejected, options.explain)}`;
}
