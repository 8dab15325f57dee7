/**
 * `POST /containers/create` for the cluster (spec §2), as v1's createContainer: the Placer's place
 * (name check, choice and reservation in one synchronous step), the engine create, the release of the
 * reservation whatever the outcome, and v1's retries (OS mismatch → ostype constraint; image not found
 * → image affinity; then `swarm.createretry` plain attempts, away from a node that could not be
 * reached). A missing image is pulled on the engine only with `swarm.pull-on-create` (v1) or for the
 * rescheduler; otherwise the engine's 404 reaches the client, whose pull policy decides.
 */
import type { IdResponse } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { errorBodyMessage } from '../engine/http';
import { isConnectionError, unreachableMessage } from '../engine/health';
import { ApiError, errorMessage } from '../errors';
import { log } from '../log';
import type { ContainerRequest } from '../scheduler/index';
import type { Placer } from './scheduling';

function splitImage(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

/** Pulls `image` on one engine; throws ApiError with the engine's message. */
async function pullOn(engine: Engine, image: string, auth?: string): Promise<void> {
  const { fromImage, tag } = splitImage(image);
  const headers: Record<string, string> = {};
  if (auth) headers['X-Registry-Auth'] = auth;
  const r = await engine.raw('POST', `/images/create?fromImage=${encodeURIComponent(fromImage)}&tag=${encodeURIComponent(tag)}`, { headers, timeoutMs: 600_000 });
  if (r.status >= 300) throw new ApiError(r.status === 404 ? 404 : 500, errorBodyMessage(r.body));
  const m = /"error"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(r.body.toString());
  if (m) throw new ApiError(500, JSON.parse(m[1]!) as string);
  await engine.refreshImages().catch(() => undefined);
}

export interface CreateOptions {
  /**
   * Pull a missing image on the chosen engine, then create (v1's way; the rescheduler, which has no
   * client to pull). Default: `--cluster-opt swarm.pull-on-create`; without it the engine's 404 goes
   * back to the client, whose pull policy (`docker run --pull`) decides.
   */
  pullOnCreate?: boolean;
  /** Constraints for the placement only, never written to the container (the rescheduler's choice). */
  placementConstraints?: string[];
  /**
   * Create on this node only (its address), still judged by the scheduler. The name then need only
   * be free on that node: the copies of a global container share it (the engine refuses a second).
   */
  node?: string;
}

interface Attempt {
  ok: boolean;
  status: number;
  body?: IdResponse;
  error: string;
  afterPull: boolean;
  /** The engine answered that it has no such image, and nothing was pulled. */
  imageMissing: boolean;
  /** The node whose engine could not be reached (a connection error): the retry goes elsewhere. */
  unreachable?: string;
}

function failed(status: number, error: string, extra: Partial<Attempt> = {}): Attempt {
  return { ok: false, status, error, afterPull: false, imageMissing: false, ...extra };
}

/** One placement and engine create; a refusal of the placement itself (ApiError) is thrown. */
async function attempt(placer: Placer, request: ContainerRequest, pull: { auth?: string; onCreate: boolean }, constraints: string[], node?: string): Promise<Attempt> {
  // Chosen and reserved in one synchronous call (see Placer.place): the first `await` is below.
  const { engine, body, release } = placer.place(request, { constraints, node });
  try {
    const q = request.name ? `?name=${encodeURIComponent(request.name)}` : '';
    const create = () => engine.raw('POST', `/containers/create${q}`, { body, timeoutMs: 120_000 });
    let r;
    try {
      r = await create();
    } catch (err) {
      // engine.raw has counted a connection error against the node's health, so the next creates
      // prefer other nodes even before it is flagged Unhealthy.
      return failed(500, unreachableMessage(engine, err), isConnectionError(err) ? { unreachable: engine.name } : {});
    }
    let afterPull = false;
    // v1 (engine-api): a 404 naming the image means it is missing there. Other 404s ("plugin ... not
    // found" for a volume or log driver) are the engine's answer, not a reason to pull.
    const missing = errorBodyMessage(r.body);
    if (r.status === 404 && (/no such image/i.test(missing) || (request.image !== '' && missing.includes(request.image)))) {
      if (!pull.onCreate) return failed(404, missing, { imageMissing: true });
      afterPull = true;
      try {
        await pullOn(engine, request.image, pull.auth);
      } catch (err) {
        return failed(err instanceof ApiError ? err.status : 500, errorMessage(err), { afterPull });
      }
      r = await create();
    }
    if (r.status !== 201) return failed(r.status, errorBodyMessage(r.body), { afterPull });
    const created = JSON.parse(r.body.toString()) as IdResponse;
    // One inspect, shared with the `create` event's if that came first (engine.learnContainer).
    await engine.learnContainer(created.Id).catch(() => undefined);
    return { ok: true, status: 201, body: created, error: '', afterPull, imageMissing: false };
  } finally {
    release();
  }
}

/** Creates a container where the scheduler says; ApiError with the status and text the client gets. */
export async function createContainer(placer: Placer, body: unknown, name: string, auth?: string, opts: CreateOptions = {}): Promise<IdResponse> {
  const cluster = placer.cluster;
  let request = placer.prepare(body, name);
  const pull = { auth, onCreate: opts.pullOnCreate ?? cluster.opts.pullOnCreate ?? false };
  const placementConstraints = opts.placementConstraints ?? [];
  // Nodes whose engine could not be reached during this create: retries prefer the others (soft).
  const avoid: string[] = [];
  const constraints = () => [...placementConstraints, ...avoid.map((n) => `node!=~${n}`)];
  let result = await attempt(placer, request, pull, constraints(), opts.node);
  let retries = 0;
  let rewrites = 0;
  // The engine's "No such image": what the client gets when no retry finds the image, so that its
  // pull policy applies (`docker run` pulls, then creates again; `--pull never` stops).
  let noSuchImage: Attempt | undefined;
  while (!result.ok) {
    // Engine-side refusals that no retry can fix.
    if (result.status === 409 || result.status === 400) break;
    if (result.imageMissing) noSuchImage ??= result;
    if (result.unreachable && !avoid.includes(result.unreachable)) avoid.push(result.unreachable);
    const imageUnavailable = result.afterPull || result.imageMissing;
    const next: ContainerRequest | null = rewrites < 2 ? placer.retryRequest(request, result.error, imageUnavailable) : null;
    if (next) {
      rewrites++;
      retries++;
      request = next;
    } else if (!result.imageMissing && retries < cluster.opts.createRetry) {
      retries++;
      log.warn(`Failed to create container: ${result.error}, retrying`, { retry: retries, of: cluster.opts.createRetry });
    } else break;
    try {
      result = await attempt(placer, request, pull, constraints(), opts.node);
    } catch (err) {
      // The nodes holding the image cannot take the container: let the client pull it.
      if (noSuchImage && err instanceof ApiError) break;
      throw err;
    }
  }
  if (!result.ok && noSuchImage) result = noSuchImage;
  if (!result.ok) throw new ApiError(result.imageMissing ? 404 : result.status === 409 || result.status === 400 ? result.status : 500, result.error);
  if (!result.body) throw new ApiError(500, 'the engine answered the create without a container ID');
  return result.body;
}
