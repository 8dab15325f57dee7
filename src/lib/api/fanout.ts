/**
 * One buffered call asked of every Healthy engine at once (prunes, `system df`), with each node's
 * answer or failure, and the error that names the nodes that failed: a cluster-wide answer never
 * hides a node it could not get.
 */
import type { Engine } from '../engine/engine';
import { unreachableMessage } from '../engine/health';
import { errorBodyMessage } from '../engine/http';
import { compareApiVersions, stripVersionPrefix } from '../engine/version';
import { ApiError } from '../errors';
import type { RequestCtx } from './router';

export interface NodeAnswer<T> {
  engine: Engine;
  body: T;
}

export interface NodeFailure {
  engine: Engine;
  status: number;
  message: string;
}

export interface FanOutResult<T> {
  answers: NodeAnswer<T>[];
  failures: NodeFailure[];
}

/** The engines a cluster-wide call goes to: the Healthy ones, by name (stable lists). */
export function targetEngines(ctx: RequestCtx): Engine[] {
  const engines = ctx.cluster.healthy().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!engines.length) throw new ApiError(500, 'No healthy node available in the cluster');
  return engines;
}

/** Registered engines left out because they are not Healthy (their objects are not in the answer). */
export function skippedNodes(ctx: RequestCtx): string[] {
  return ctx.cluster
    .registered()
    .filter((e) => !e.isHealthy())
    .map((e) => `${e.name}: node is ${e.stateLabel}, not asked`);
}

/**
 * `method path(engine)` on every engine in parallel, each at its own API version; a 2xx JSON body is
 * an answer, anything else (HTTP error, unreachable, unreadable body) a failure. `path` may throw an
 * ApiError to fail one engine without asking it.
 */
/**
 * A prune or df takes as long as the engine needs (minutes on a big host), but a pooled connection
 * over a link that died answers nothing at all: bounded, so the answer names that node in the end.
 */
const FAN_OUT_TIMEOUT_MS = 10 * 60_000;

export async function askEngines<T>(engines: Engine[], method: string, path: (engine: Engine) => string): Promise<FanOutResult<T>> {
  const answers: NodeAnswer<T>[] = [];
  const failures: NodeFailure[] = [];
  await Promise.all(
    engines.map(async (engine) => {
      try {
        const r = await engine.raw(method, path(engine), { raw: Buffer.alloc(0), timeoutMs: FAN_OUT_TIMEOUT_MS });
        if (r.status < 200 || r.status >= 300) {
          failures.push({ engine, status: r.status, message: errorBodyMessage(r.body) || `HTTP ${r.status}` });
          return;
        }
        answers.push({ engine, body: JSON.parse(r.body.toString()) as T });
      } catch (err) {
        if (err instanceof ApiError) failures.push({ engine, status: err.status, message: err.message });
        else if (err instanceof SyntaxError) failures.push({ engine, status: 500, message: `unreadable answer: ${err.message}` });
        else failures.push({ engine, status: 500, message: unreachableMessage(engine, err) });
      }
    }),
  );
  const byName = (a: { engine: Engine }, b: { engine: Engine }) => (a.engine.name < b.engine.name ? -1 : a.engine.name > b.engine.name ? 1 : 0);
  answers.sort(byName);
  failures.sort(byName);
  return { answers, failures };
}

/** `node-1, node-2: message; node-3: other message` (nodes that failed alike are named together). */
export function describeFailures(failures: NodeFailure[]): string {
  const byMessage = new Map<string, string[]>();
  for (const f of failures) byMessage.set(f.message, [...(byMessage.get(f.message) ?? []), f.engine.name]);
  return [...byMessage].map(([message, nodes]) => `${nodes.join(', ')}: ${message}`).join('; ');
}

/** The status of an answer some nodes failed: theirs when they agree (400 bad filter, 409 busy), else 500. */
export function failureStatus(failures: NodeFailure[]): number {
  const statuses = new Set(failures.map((f) => f.status));
  const only = statuses.size === 1 ? [...statuses][0]! : 500;
  return only >= 400 && only < 600 ? only : 500;
}

/** The API version the client asked for (its `/v1.NN` prefix), else the one the manager advertises. */
export function clientApiVersion(ctx: RequestCtx): string {
  const raw = ctx.req.url ?? '/';
  const q = raw.indexOf('?');
  return stripVersionPrefix(q < 0 ? raw : raw.slice(0, q)).version ?? ctx.cluster.apiVersion();
}

export const versionBelow = (version: string, than: string) => compareApiVersions(version, than) < 0;
