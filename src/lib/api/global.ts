/** Global containers through the API (manager/global.ts): the create, calls that act on every copy, and their 404. */
import type { IdResponse, JsonObject } from '../engine/docker-types';
import { errorBodyMessage } from '../engine/http';
import type { Cluster } from '../manager/cluster';
import { copiesNamed, type GlobalOp } from '../manager/global';
import { naturalCompare } from './format';
import { forward } from './proxy';
import { ApiError } from '../errors';
import { discardBody, sendEmpty } from './respond';
import type { Handler, RequestCtx } from './router';

/** Copies named in a 404 before "and N more". */
const NAMES_SHOWN = 5;

export function createGlobal(ctx: RequestCtx, body: JsonObject, name: string, auth?: string): Promise<IdResponse> {
  if (!ctx.globals) throw new ApiError(501, 'global containers are not available on this manager');
  return ctx.globals.create(body, name, auth);
}

/**
 * v1's 404 for a name several containers share, which says so when they are the copies of a global
 * container (a call other than start, stop, restart, kill, pause, unpause or rm reaches one copy).
 */
export function noSuchContainer(cluster: Cluster, ref: string): string {
  const copies = copiesNamed(cluster, ref);
  const base = `No such container: ${ref}`;
  if (copies.length < 2) return base;
  const name = ref.replace(/^\//, '');
  const names = copies.map((f) => `${f.engine.name}/${name}`).sort(naturalCompare);
  const more = names.length > NAMES_SHOWN ? ` and ${names.length - NAMES_SHOWN} more` : '';
  return `${base} (${name} is a global container with ${names.length} copies: ${names.slice(0, NAMES_SHOWN).join(', ')}${more}; name one as <node>/<name>)`;
}

/**
 * `single` unless the call names a global container: then the call goes to every copy on a healthy
 * node and answers 204 when each did it (304 when each had already), else the engines' errors by node.
 */
export function acrossCopies(op: GlobalOp, single: Handler): Handler {
  return async (ctx) => {
    const ref = ctx.params.name!;
    const target = ctx.globals?.targetOf(ref, op);
    if (!ctx.globals || !target) return single(ctx);
    await discardBody(ctx.req); // start takes no HostConfig (as v1), the others no body
    if (op !== 'rm' && !target.copies.some((f) => f.engine.isHealthy())) {
      const nodes = [...new Set(target.copies.map((f) => f.engine.name))].sort(naturalCompare);
      throw new ApiError(500, `Container ${ref} running on unhealthy node ${nodes.join(', ')}`);
    }
    const method = op === 'rm' ? 'DELETE' : 'POST';
    const outcomes = await ctx.globals.apply(target, op, ctx.query, async ({ engine, container }) => {
      const path = op === 'rm' ? `/containers/${container.id}${ctx.search}` : `/containers/${container.id}/${op}${ctx.search}`;
      const r = await forward(ctx.req, engine, path, Buffer.alloc(0), method, 0);
      return r.status >= 300 && r.status !== 304 ? { status: r.status, error: errorBodyMessage(r.body) } : { status: r.status };
    });
    // A copy already gone is removed as far as rm is concerned.
    const failed = outcomes.filter((o) => o.error !== undefined && !(op === 'rm' && o.status === 404));
    if (!failed.length) return sendEmpty(ctx.res, outcomes.length > 0 && outcomes.every((o) => o.status === 304) ? 304 : 204);
    failed.sort((a, b) => naturalCompare(a.copy.engine.name, b.copy.engine.name));
    const status = failed.length === outcomes.length && new Set(failed.map((o) => o.status)).size === 1 ? failed[0]!.status : 500;
    throw new ApiError(status, failed.map((o) => `${o.copy.engine.name}: ${o.error}`).join('; '));
  };
}
