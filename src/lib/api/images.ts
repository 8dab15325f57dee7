/** Image routes: list merged across engines, pull/load/import fanned out, the rest to an engine holding the image. */
import type http from 'node:http';
import type { ImageSummary, ProgressMessage } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { errorBodyMessage } from '../engine/http';
import { JsonStreamParser } from '../engine/jsonstream';
import { imageMatches, normalizeImageRef } from '../manager/cluster';
import { PlacementError } from '../manager/scheduling';
import { passThrough } from './containers';
import { forward, proxyTo } from './proxy';
import { baseHeaders, HttpError, matchesPattern, parseFilters, readBody, sendJson } from './respond';
import type { RequestCtx, Router } from './router';

function globToRegex(glob: string): RegExp {
  return new RegExp('^' + glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '.') + '$');
}

/** An image of `docker images`: one per ID across the nodes, with every node's tags and digests. */
export type MergedImage = ImageSummary & { RepoTags: string[]; RepoDigests: string[] };

export function listImages(engines: Engine[], query: URLSearchParams): MergedImage[] {
  const filters = parseFilters(query.get('filters') ?? (query.get('filter') ? JSON.stringify({ reference: [query.get('filter')] }) : null));
  for (const k of filters.keys()) if (!['node', 'reference', 'label', 'dangling', 'before', 'since'].includes(k)) throw new HttpError(400, `invalid filter '${k}'`);
  const dangling = filters.get('dangling');
  if (dangling) for (const d of dangling) if (!['true', 'false', '1', '0'].includes(d)) throw new HttpError(400, `invalid filter 'dangling=${d}'`);
  const byId = new Map<string, MergedImage>();
  for (const engine of engines) {
    const nodes = filters.get('node');
    if (nodes?.length && !nodes.some((n) => matchesPattern(n, engine.name) || n === engine.id)) continue;
    for (const img of engine.images) {
      const merged = byId.get(img.Id);
      if (!merged) byId.set(img.Id, { ...img, RepoTags: [...(img.RepoTags ?? [])], RepoDigests: [...(img.RepoDigests ?? [])] });
      else {
        for (const t of img.RepoTags ?? []) if (!merged.RepoTags.includes(t)) merged.RepoTags.push(t);
        for (const d of img.RepoDigests ?? []) if (!merged.RepoDigests.includes(d)) merged.RepoDigests.push(d);
      }
    }
  }
  let out = [...byId.values()];
  const refs = filters.get('reference');
  if (refs?.length) {
    // As the engine does: keep the images with a matching reference, and only their matching tags.
    const matches = (t: string) =>
      refs.some((r) => {
        const re = globToRegex(r);
        const repo = t.slice(0, t.lastIndexOf(':'));
        return re.test(t) || re.test(repo) || normalizeImageRef(t) === normalizeImageRef(r);
      });
    out = out.filter((img) => img.RepoTags.some(matches)).map((img) => ({ ...img, RepoTags: img.RepoTags.filter(matches) }));
  }
  if (dangling?.length) {
    const want = dangling[0] === 'true' || dangling[0] === '1';
    out = out.filter((img) => (img.RepoTags.filter((t) => t !== '<none>:<none>').length === 0) === want);
  }
  const labels = filters.get('label');
  if (labels?.length) {
    out = out.filter((img) =>
      labels.every((l) => {
        const i = l.indexOf('=');
        const ls = img.Labels ?? {};
        return i < 0 ? l in ls : ls[l.slice(0, i)] === l.slice(i + 1);
      }),
    );
  }
  out.sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0));
  return out;
}

/** Engines holding the image, healthy ones first; 404 when none. */
function holders(ctx: RequestCtx, ref: string): Engine[] {
  const list = ctx.cluster.enginesWithImage(ref).sort((a, b) => Number(b.isHealthy()) - Number(a.isHealthy()));
  if (!list.length) throw new HttpError(404, `No such image: ${ref}`);
  return list;
}

function startStream(res: http.ServerResponse): void {
  res.writeHead(200, { ...baseHeaders(), 'Content-Type': 'application/json' });
  res.flushHeaders?.();
}

/**
 * Runs one streaming call per engine in parallel and relays each JSON message tagged with the node
 * name; appends an error message when any engine failed (v1's per-node pull progress).
 */
async function fanOutStream(
  ctx: RequestCtx,
  engines: Engine[],
  path: string,
  body: Buffer | undefined,
  relabel: (engine: Engine, msg: ProgressMessage) => ProgressMessage,
): Promise<void> {
  if (!engines.length) throw new HttpError(500, 'No healthy node available in the cluster');
  startStream(ctx.res);
  const failures: string[] = [];
  const auth = ctx.req.headers['x-registry-auth'] as string | undefined;
  const contentType = ctx.req.headers['content-type'] as string | undefined;
  await Promise.all(
    engines.map(async (engine) => {
      const headers: Record<string, string> = {};
      if (auth) headers['X-Registry-Auth'] = auth;
      if (contentType) headers['Content-Type'] = contentType;
      try {
        const res = await engine.open('POST', path, { raw: body ?? Buffer.alloc(0), headers });
        if ((res.statusCode ?? 500) >= 300) {
          const chunks: Buffer[] = [];
          for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
          throw new Error(errorBodyMessage(Buffer.concat(chunks)));
        }
        const parser = new JsonStreamParser();
        res.setEncoding('utf8');
        for await (const chunk of res as AsyncIterable<string>) {
          for (const msg of parser.push(chunk) as ProgressMessage[]) {
            if (msg.error) failures.push(`${engine.name}: ${msg.error}`);
            ctx.res.write(JSON.stringify(relabel(engine, msg)) + '\n');
          }
        }
        await engine.refreshImages().catch(() => undefined);
      } catch (err) {
        const m = `${engine.name}: ${(err as Error).message}`;
        failures.push(m);
        ctx.res.write(JSON.stringify({ status: (err as Error).message, id: engine.name }) + '\n');
      }
    }),
  );
  if (failures.length) ctx.res.write(JSON.stringify({ errorDetail: { message: failures.join('; ') }, error: failures.join('; ') }) + '\n');
  ctx.res.end();
}

async function imagesCreate(ctx: RequestCtx): Promise<void> {
  const fromImage = ctx.query.get('fromImage');
  const fromSrc = ctx.query.get('fromSrc');
  const engines = ctx.cluster.healthy();
  if (fromImage) {
    const tag = ctx.query.get('tag');
    const image = tag ? `${fromImage}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : fromImage;
    await readBody(ctx.req);
    await fanOutStream(ctx, engines, `/images/create${ctx.search}`, undefined, (engine, msg) => {
      const out = { ...msg, id: engine.name };
      if (msg.status) out.status = `Pulling ${image}... : ${msg.status}${msg.id && msg.id !== image && msg.id !== tag ? ` ${msg.id}` : ''}`;
      delete out.progressDetail;
      delete out.progress;
      return out;
    });
    return;
  }
  if (fromSrc) {
    const body = await readBody(ctx.req);
    await fanOutStream(ctx, engines, `/images/create${ctx.search}`, body, (engine, msg) => ({ ...msg, id: engine.name }));
    return;
  }
  throw new HttpError(400, 'fromImage or fromSrc is required');
}

async function imagesLoad(ctx: RequestCtx): Promise<void> {
  const body = await readBody(ctx.req);
  await fanOutStream(ctx, ctx.cluster.healthy(), `/images/load${ctx.search}`, body, (engine, msg) =>
    msg.stream ? { ...msg, stream: `${engine.name}: ${msg.stream}` } : { ...msg, id: engine.name },
  );
}

async function build(ctx: RequestCtx): Promise<void> {
  const cpus = Number(ctx.query.get('cpushares') ?? 0) || 0;
  const memory = Number(ctx.query.get('memory') ?? 0) || 0;
  let buildArgs: Record<string, string | null> = {};
  try {
    buildArgs = (JSON.parse(ctx.query.get('buildargs') || '{}') as Record<string, string | null> | null) ?? {};
  } catch {
    throw new HttpError(400, 'invalid buildargs: expected a JSON object');
  }
  let node;
  try {
    node = ctx.placer.pickNode(ctx.cluster.snapshot(), { cpus, memory }, buildArgs);
  } catch (err) {
    if (err instanceof PlacementError) throw new HttpError(err.status, err.message);
    throw err;
  }
  const engine = ctx.cluster.engines.get(node.addr)!;
  await proxyTo(ctx.req, ctx.res, engine, `/build${ctx.search}`, { after: () => engine.refreshImages() });
}

async function tag(ctx: RequestCtx): Promise<void> {
  const name = ctx.params.name!;
  const engines = holders(ctx, name);
  let last: { status: number; body: Buffer } | undefined;
  let ok = 0;
  for (const engine of engines) {
    const r = await forward(ctx.req, engine, `/images/${name}/tag${ctx.search}`, Buffer.alloc(0));
    last = r;
    if (r.status < 300) {
      ok++;
      await engine.refreshImages().catch(() => undefined);
    }
  }
  if (!ok && last) throw new HttpError(last.status, errorBodyMessage(last.body));
  ctx.res.writeHead(201, baseHeaders());
  ctx.res.end();
}

async function removeImage(ctx: RequestCtx): Promise<void> {
  const name = ctx.params.name!;
  const engines = holders(ctx, name);
  const items: unknown[] = [];
  const errors: { status: number; message: string }[] = [];
  await Promise.all(
    engines.map(async (engine) => {
      const r = await forward(ctx.req, engine, `/images/${name}${ctx.search}`, Buffer.alloc(0));
      if (r.status === 200) {
        for (const it of JSON.parse(r.body.toString()) as unknown[]) {
          if (!items.some((x) => JSON.stringify(x) === JSON.stringify(it))) items.push(it);
        }
        await engine.refreshImages().catch(() => undefined);
      } else errors.push({ status: r.status, message: errorBodyMessage(r.body) });
    }),
  );
  if (!items.length && errors.length) throw new HttpError(errors[0]!.status, errors.map((e) => e.message).join('; '));
  sendJson(ctx.res, 200, items);
}

function toHolder(suffix: string) {
  return async (ctx: RequestCtx) => {
    const name = ctx.params.name!;
    // push names the tag in the query (`/images/reg/x/push?tag=1`)
    const tag = suffix === '/push' ? ctx.query.get('tag') : null;
    const engine = holders(ctx, tag ? `${name}:${tag}` : name)[0]!;
    await proxyTo(ctx.req, ctx.res, engine, `/images/${name}${suffix}${ctx.search}`);
  };
}

async function imagesGet(ctx: RequestCtx): Promise<void> {
  const names = ctx.query.getAll('names');
  const engine = ctx.cluster.healthy().find((e) => names.every((n) => e.images.some((i) => imageMatches(i, n))));
  if (!engine) throw new HttpError(404, 'Unable to find a healthy engine containing all images');
  await proxyTo(ctx.req, ctx.res, engine, `/images/get${ctx.search}`);
}

async function anyNode(ctx: RequestCtx): Promise<void> {
  let node;
  try {
    node = ctx.placer.pickNode(ctx.cluster.snapshot());
  } catch (err) {
    if (err instanceof PlacementError) throw new HttpError(err.status, err.message);
    throw err;
  }
  const engine = ctx.cluster.engines.get(node.addr)!;
  const body = await readBody(ctx.req);
  const r = await forward(ctx.req, engine, ctx.path + ctx.search, body);
  passThrough(ctx, r);
}

export function imageRoutes(router: Router): void {
  router.add('GET', '/images/json', (ctx) => sendJson(ctx.res, 200, listImages(ctx.cluster.registered(), ctx.query)));
  router.add('POST', '/images/create', imagesCreate);
  router.add('POST', '/images/load', imagesLoad);
  router.add('GET', '/images/get', imagesGet);
  router.add('GET', '/images/search', anyNode);
  router.add('POST', '/auth', anyNode);
  router.add('GET', '/images/viz', () => {
    throw new HttpError(501, 'Not supported in clustering mode.');
  });
  router.add('POST', '/build', build);
  router.add('POST', '/images/{name*}/tag', tag);
  router.add('POST', '/images/{name*}/push', toHolder('/push'));
  router.add('GET', '/images/{name*}/json', toHolder('/json'));
  router.add('GET', '/images/{name*}/history', toHolder('/history'));
  router.add('GET', '/images/{name*}/get', toHolder('/get'));
  router.add('DELETE', '/images/{name*}', removeImage);
}

