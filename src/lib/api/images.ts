/** Image routes: list merged across engines, pull/load/import fanned out, the rest to an engine holding the image. */
import type http from 'node:http';
import type { ImageSummary, ProgressMessage } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { errorBodyMessage } from '../engine/http';
import { JsonStreamParser } from '../engine/jsonstream';
import { bestImage, engineReads, imageMatches, normalizeImageRef, parseImageRef } from '../scheduler/reference';
import { noteBuild, uploadTarget } from './buildkit';
import { passThrough } from './containers';
import { UploadTee } from './tee';
import { forward, proxyTo } from './proxy';
import { pathMatch } from './path-match';
import { ApiError } from '../errors';
import { baseHeaders, discardBody, labelsMatch, parseFilters, patternMatcher, readBody, sendJson, truthy } from './respond';
import type { RequestCtx } from './router';

/**
 * The `reference` filter on one tag or digest, as Docker's FamiliarMatch: the glob against the whole
 * reference or its repository; also an equal reference written in full (`docker.io/library/…`).
 */
function referenceMatches(pattern: string, ref: string): boolean {
  return pathMatch(pattern, ref) || pathMatch(pattern, parseImageRef(ref).repository) || normalizeImageRef(ref) === normalizeImageRef(pattern);
}

const NO_TAG = '<none>:<none>';
const NO_DIGEST = '<none>@<none>';

/**
 * The Created time of the image a `before`/`since` filter names, as v1 finds it: one value, an image
 * of any node by ID, ID prefix or reference, else any tag of the same repository; 400 when none.
 */
function filterImageCreated(engines: Engine[], filters: Map<string, string[]>, key: 'before' | 'since'): number | undefined {
  const values = filters.get(key);
  if (!values?.length) return undefined;
  const ref = values.length === 1 ? values[0]! : '';
  const every = engines.flatMap((e) => e.images);
  // v1's Match(ref, false): any tag of the repository, the best match first.
  const img = ref ? bestImage(every, ref, true) : undefined;
  if (!img) throw new ApiError(400, `Invalid filter: 'type'='${key}': no such image found: '${ref}'`);
  return img.Created ?? 0;
}

/** An image of `docker images`: one per ID across the nodes, with every node's tags and digests. */
export type MergedImage = ImageSummary & { RepoTags: string[]; RepoDigests: string[] };

/**
 * `docker images` as v1 answers it: each node's images filtered, then grouped by ID with their tags
 * and digests merged, newest first. Without `all` (or a `dangling` filter), images with neither a
 * tag nor a digest are left out, as v1 does.
 */
export function listImages(engines: Engine[], query: URLSearchParams): MergedImage[] {
  const filters = parseFilters(query.get('filters') ?? (query.get('filter') ? JSON.stringify({ reference: [query.get('filter')] }) : null));
  for (const k of filters.keys()) if (!['node', 'reference', 'label', 'dangling', 'before', 'since'].includes(k)) throw new ApiError(400, `invalid filter '${k}'`);
  const dangling = filters.get('dangling') ?? [];
  for (const d of dangling) if (d !== 'true' && d !== 'false') throw new ApiError(400, `invalid filter 'dangling=${d}'`);
  const before = filterImageCreated(engines, filters, 'before');
  const since = filterImageCreated(engines, filters, 'since');
  const labels = filters.get('label') ?? [];
  const refs = filters.get('reference') ?? [];
  const nodes = (filters.get('node') ?? []).map((n) => ({ n, m: patternMatcher(n) }));
  const showUnnamed = truthy(query.get('all')) || dangling.length > 0;
  const byId = new Map<string, MergedImage>();
  for (const engine of engines) {
    if (nodes.length && !nodes.some(({ n, m }) => m(engine.name) || n === engine.id)) continue;
    for (const img of engine.images) {
      let tags = img.RepoTags ?? [];
      let digests = img.RepoDigests ?? [];
      const tagged = tags.some((t) => t !== NO_TAG);
      if (!showUnnamed && !tagged && !digests.some((d) => d !== NO_DIGEST)) continue;
      if (dangling.includes('true') && tagged) continue;
      if (dangling.includes('false') && !tagged) continue;
      if (labels.length && !labelsMatch(img.Labels, labels)) continue;
      const created = img.Created ?? 0;
      if ((before !== undefined && !(created < before)) || (since !== undefined && !(created > since))) continue;
      if (refs.length) {
        // As the engine does: keep the images with a matching reference, and only their matching ones.
        const matches = (t: string) => refs.some((r) => referenceMatches(r, t));
        if (![...tags, ...digests].some(matches)) continue;
        tags = tags.filter(matches);
        digests = digests.filter(matches);
      }
      const merged = byId.get(img.Id);
      if (!merged) byId.set(img.Id, { ...img, RepoTags: [...tags], RepoDigests: [...digests] });
      else {
        for (const t of tags) if (!merged.RepoTags.includes(t)) merged.RepoTags.push(t);
        for (const d of digests) if (!merged.RepoDigests.includes(d)) merged.RepoDigests.push(d);
      }
    }
  }
  const out = [...byId.values()];
  out.sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0));
  return out;
}

/** Engines holding the image, healthy ones first; 404 when none. */
function holders(ctx: RequestCtx, ref: string): Engine[] {
  const list = ctx.cluster.enginesWithImage(ref).sort((a, b) => Number(b.isHealthy()) - Number(a.isHealthy()));
  if (!list.length) throw new ApiError(404, `No such image: ${ref}`);
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
  /** 'upload': the client's body is streamed to every engine (load, import), never held whole. */
  body: 'upload' | undefined,
  relabel: (engine: Engine, msg: ProgressMessage) => ProgressMessage,
): Promise<void> {
  if (!engines.length) throw new ApiError(500, 'No healthy node available in the cluster');
  const tee = body === 'upload' ? new UploadTee(ctx.req, engines.length) : undefined;
  startStream(ctx.res);
  const failures: string[] = [];
  const auth = ctx.req.headers['x-registry-auth'] as string | undefined;
  const contentType = ctx.req.headers['content-type'] as string | undefined;
  await Promise.all(
    engines.map(async (engine) => {
      const headers: Record<string, string> = {};
      if (auth) headers['X-Registry-Auth'] = auth;
      if (contentType) headers['Content-Type'] = contentType;
      let added = false;
      try {
        const bodyWriter = (up: http.ClientRequest) => {
          added = true;
          tee?.add(up);
        };
        const res = await engine.open('POST', path, tee ? { headers, bodyWriter } : { raw: Buffer.alloc(0), headers });
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
        if (tee && !added) tee.skip();
        const m = `${engine.name}: ${(err as Error).message}`;
        failures.push(m);
        ctx.res.write(JSON.stringify({ status: (err as Error).message, id: engine.name }) + '\n');
      }
    }),
  );
  if (failures.length) ctx.res.write(JSON.stringify({ errorDetail: { message: failures.join('; ') }, error: failures.join('; ') }) + '\n');
  ctx.res.end();
}

export async function imagesCreate(ctx: RequestCtx): Promise<void> {
  const fromImage = ctx.query.get('fromImage');
  const fromSrc = ctx.query.get('fromSrc');
  const engines = ctx.cluster.healthy();
  if (fromImage) {
    const tag = ctx.query.get('tag');
    const image = tag ? `${fromImage}${tag.startsWith('sha256:') ? '@' : ':'}${tag}` : fromImage;
    await discardBody(ctx.req);
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
    await fanOutStream(ctx, engines, `/images/create${ctx.search}`, fromSrc === '-' ? 'upload' : undefined, (engine, msg) => ({ ...msg, id: engine.name }));
    return;
  }
  throw new ApiError(400, 'fromImage or fromSrc is required');
}

/**
 * Each node's load output with the node in `id` (v1), the text as dockerd wrote it: clients parse
 * `stream` lines (the Python SDK's images.load returns one image per `Loaded image: …` line), so
 * each distinct line is a `stream` once and the other nodes' copies come as `status`, which the CLI
 * prints alike (`node-2: Loaded image: x`).
 */
export async function imagesLoad(ctx: RequestCtx): Promise<void> {
  const streamed = new Set<string>();
  await fanOutStream(ctx, ctx.cluster.healthy(), `/images/load${ctx.search}`, 'upload', (engine, msg) => {
    const { stream, ...rest } = msg;
    if (typeof stream !== 'string' || !streamed.has(stream)) {
      if (typeof stream === 'string') streamed.add(stream);
      return { ...msg, id: engine.name };
    }
    return { ...rest, status: stream.replace(/\n$/, ''), id: engine.name };
  });
}

export async function build(ctx: RequestCtx): Promise<void> {
  const upload = await uploadTarget(ctx);
  if (upload) return proxyTo(ctx.req, ctx.res, upload, `/build${ctx.search}`);
  const cpus = Number(ctx.query.get('cpushares') ?? 0) || 0;
  const memory = Number(ctx.query.get('memory') ?? 0) || 0;
  let buildArgs: Record<string, string | null> = {};
  try {
    buildArgs = (JSON.parse(ctx.query.get('buildargs') || '{}') as Record<string, string | null> | null) ?? {};
  } catch {
    throw new ApiError(400, 'invalid buildargs: expected a JSON object');
  }
  const engine = ctx.placer.placeBuild(buildArgs, { cpus, memory });
  noteBuild(ctx, engine);
  await proxyTo(ctx.req, ctx.res, engine, `/build${ctx.search}`, { after: () => engine.refreshImages() });
}

export async function tag(ctx: RequestCtx): Promise<void> {
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
  if (!ok && last) throw new ApiError(last.status, errorBodyMessage(last.body));
  ctx.res.writeHead(201, baseHeaders());
  ctx.res.end();
}

export async function removeImage(ctx: RequestCtx): Promise<void> {
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
  if (!items.length && errors.length) throw new ApiError(errors[0]!.status, errors.map((e) => e.message).join('; '));
  sendJson(ctx.res, 200, items);
}

export function toHolder(suffix: string) {
  return async (ctx: RequestCtx) => {
    const name = ctx.params.name!;
    // push names the tag in the query (`/images/reg/x/push?tag=1`)
    const tag = suffix === '/push' ? ctx.query.get('tag') : null;
    const engine = holders(ctx, tag ? `${name}:${tag}` : name)[0]!;
    await proxyTo(ctx.req, ctx.res, engine, `/images/${name}${suffix}${ctx.search}`);
  };
}

export async function imagesGet(ctx: RequestCtx): Promise<void> {
  const names = ctx.query.getAll('names');
  const healthy = ctx.cluster.healthy();
  const holdsAll = (e: Engine, match: typeof imageMatches) => names.every((n) => e.images.some((i) => match(i, n)));
  // An engine that reads every name as the image it holds, else (v1) one holding some tag of each.
  const engine = healthy.find((e) => holdsAll(e, engineReads)) ?? healthy.find((e) => holdsAll(e, imageMatches));
  if (!engine) throw new ApiError(404, 'Unable to find a healthy engine containing all images');
  await proxyTo(ctx.req, ctx.res, engine, `/images/get${ctx.search}`);
}

export async function anyNode(ctx: RequestCtx): Promise<void> {
  const engine = ctx.placer.placeBuild();
  const body = await readBody(ctx.req);
  const r = await forward(ctx.req, engine, ctx.path + ctx.search, body);
  passThrough(ctx, r);
}

export function listImagesRoute(ctx: RequestCtx): void {
  sendJson(ctx.res, 200, listImages(ctx.cluster.registered(), ctx.query));
}

export function imagesViz(): never {
  throw new ApiError(501, 'Not supported in clustering mode.');
}

