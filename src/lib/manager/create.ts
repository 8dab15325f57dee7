/**
 * `POST /containers/create` for the cluster (spec §2): name check, placement with a pending
 * reservation, the engine create (pulling the image there when missing), and v1's retries (OS
 * mismatch → ostype constraint; image not found → image affinity; then `swarm.createretry` plain
 * attempts).
 */
import type { IdResponse } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { errorBodyMessage } from '../engine/http';
import { log } from '../log';
import { nameConflictMessage, type ContainerRequest, type LocalNetwork } from '../scheduler/index';
import type { Cluster } from './cluster';
import { PlacementError, type Placer } from './scheduling';

export class CreateError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function splitImage(image: string): { fromImage: string; tag: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { fromImage: image.slice(0, at), tag: image.slice(at + 1) };
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  if (colon > slash) return { fromImage: image.slice(0, colon), tag: image.slice(colon + 1) };
  return { fromImage: image, tag: 'latest' };
}

/** Pulls `image` on one engine; throws CreateError with the engine's message. */
export async function pullOn(engine: Engine, image: string, auth?: string): Promise<void> {
  const { fromImage, tag } = splitImage(image);
  const headers: Record<string, string> = {};
  if (auth) headers['X-Registry-Auth'] = auth;
  const r = await engine.raw('POST', `/images/create?fromImage=${encodeURIComponent(fromImage)}&tag=${encodeURIComponent(tag)}`, { headers, timeoutMs: 600_000 });
  if (r.status >= 300) throw new CreateError(r.status === 404 ? 404 : 500, errorBodyMessage(r.body));
  const m = /"error"\s*:\s*("(?:[^"\\]|\\.)*")/.exec(r.body.toString());
  if (m) throw new CreateError(500, JSON.parse(m[1]!) as string);
  await engine.refreshImages().catch(() => undefined);
}

function localNetworks(cluster: Cluster): LocalNetwork[] {
  const out: LocalNetwork[] = [];
  for (const e of cluster.registered()) for (const n of e.networks.values()) if (n.Scope === 'local') out.push({ node: e.name, name: n.Name, id: n.Id });
  return out;
}

interface Attempt {
  ok: boolean;
  status: number;
  body?: IdResponse;
  error: string;
  afterPull: boolean;
}

async function attempt(cluster: Cluster, placer: Placer, request: ContainerRequest, auth: string | undefined): Promise<Attempt> {
  let placement;
  try {
    placement = placer.place(cluster.snapshot(), request);
  } catch (err) {
    if (err instanceof PlacementError) throw new CreateError(err.status, err.message);
    throw err;
  }
  const engine = cluster.engines.get(placement.node.addr);
  if (!engine) throw new CreateError(500, 'No nodes available in the cluster');
  const release = cluster.addPending(engine.addr, placement.reservation);
  try {
    const q = request.name ? `?name=${encodeURIComponent(request.name)}` : '';
    const create = () => engine.raw('POST', `/containers/create${q}`, { body: placement.engineBody, timeoutMs: 120_000 });
    let r;
    try {
      r = await create();
    } catch (err) {
      return { ok: false, status: 500, error: `Cannot reach node ${engine.name} (${engine.addr}): ${(err as Error).message}`, afterPull: false };
    }
    let afterPull = false;
    // v1 (engine-api): a 404 naming the image means it is missing there. Other 404s ("plugin ... not
    // found" for a volume or log driver) are the engine's answer, not a reason to pull.
    const missing = errorBodyMessage(r.body);
    if (r.status === 404 && (/no such image/i.test(missing) || (request.image !== '' && missing.includes(request.image)))) {
      afterPull = true;
      try {
        await pullOn(engine, request.image, auth);
      } catch (err) {
        return { ok: false, status: (err as CreateError).status ?? 500, error: (err as Error).message, afterPull };
      }
      r = await create();
    }
    if (r.status !== 201) return { ok: false, status: r.status, error: errorBodyMessage(r.body), afterPull };
    const created = JSON.parse(r.body.toString()) as IdResponse;
    await engine.refreshContainer(created.Id).catch(() => undefined);
    return { ok: true, status: 201, body: created, error: '', afterPull };
  } finally {
    release();
  }
}

export async function createContainer(cluster: Cluster, placer: Placer, body: unknown, name: string, auth?: string): Promise<IdResponse> {
  if (name && cluster.nameTaken(name)) throw new CreateError(409, nameConflictMessage(name));
  let request;
  try {
    request = placer.prepare(body, name, localNetworks(cluster));
  } catch (err) {
    if (err instanceof PlacementError) throw new CreateError(err.status, err.message);
    throw err;
  }
  let result = await attempt(cluster, placer, request, auth);
  let retries = 0;
  let rewrites = 0;
  while (!result.ok) {
    // Engine-side refusals that no retry can fix.
    if (result.status === 409 || result.status === 400) break;
    const next: ContainerRequest | null = rewrites < 2 ? placer.retryRequest(request, result.error, cluster.snapshot(), result.afterPull) : null;
    if (next) {
      rewrites++;
      retries++;
      request = next;
    } else if (retries < cluster.opts.createRetry) {
      retries++;
      log.warn(`Failed to create container: ${result.error}, retrying`, { retry: retries, of: cluster.opts.createRetry });
    } else break;
    result = await attempt(cluster, placer, request, auth);
  }
  if (!result.ok) throw new CreateError(result.status === 409 || result.status === 400 ? result.status : 500, result.error);
  if (!result.body) throw new CreateError(500, 'the engine answered the create without a container ID');
  return result.body;
}
