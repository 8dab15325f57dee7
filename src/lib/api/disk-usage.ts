/**
 * `GET /system/df` (`docker system df`, `-v`) over the cluster: every Healthy engine's disk usage in
 * one answer, in the shape of the client's API version. Beyond v1, which answered 404.
 *
 * Each node's objects are listed separately, since each copy takes space on its node: an image held
 * by two nodes is two entries. Containers are named `/<node>/<name>` as in `docker ps`, local volumes
 * `<node>/<name>` as in `volume ls`, image tags `<node>/<repo>:<tag>` (tags that name a registry keep
 * their form); `LayersSize` is the nodes' sum. A node that fails makes the answer an error naming it,
 * with the other nodes' usage still in the JSON body.
 *
 * Shapes by version (each engine answers at its own): below 1.42 build cache records carry `Parent`
 * and the answer `BuilderSize`, from 1.42 `Parents`; below 1.44 images carry `VirtualSize`; from 1.42
 * `type=` chooses the object kinds.
 */
import type { ContainerSummary, ImageSummary, Volume } from '../engine/docker-types';
import { askEngines, clientApiVersion, describeFailures, failureStatus, skippedNodes, targetEngines, versionBelow } from './fanout';
import { ApiError } from '../errors';
import { sendJson } from './respond';
import type { RequestCtx } from './router';

interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[] | null;
  Size?: number;
  Shared?: boolean;
  [key: string]: unknown;
}

export interface DiskUsage {
  LayersSize?: number;
  Images?: ImageSummary[] | null;
  Containers?: ContainerSummary[] | null;
  Volumes?: Volume[] | null;
  BuildCache?: BuildCacheRecord[] | null;
  BuilderSize?: number;
  [key: string]: unknown;
}

export type DiskUsageType = 'container' | 'image' | 'volume' | 'build-cache';
const TYPES: readonly DiskUsageType[] = ['container', 'image', 'volume', 'build-cache'];

/** The kinds asked for: `type=` values from API 1.42, every kind before (or when none is named). */
export function diskUsageTypes(query: URLSearchParams, clientVersion: string): Set<DiskUsageType> {
  const asked = query.getAll('type');
  if (versionBelow(clientVersion, '1.42') || !asked.length) return new Set(TYPES);
  const out = new Set<DiskUsageType>();
  for (const t of asked) {
    if (!(TYPES as readonly string[]).includes(t)) throw new ApiError(400, `unknown object type: ${t}`);
    out.add(t as DiskUsageType);
  }
  return out;
}

/** A repository path component (distribution/reference): what a node name must be to prefix a tag. */
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** `busybox:latest` → `node-1/busybox:latest`; tags naming a registry, and untagged `<none>`, as they are. */
function qualifyTag(node: string, tag: string): string {
  if (!PATH_COMPONENT.test(node) || tag.startsWith('<none>')) return tag;
  const slash = tag.indexOf('/');
  const first = slash < 0 ? '' : tag.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return tag;
  return `${node}/${tag}`;
}

/** The nodes' disk usage as one answer, in the shape of the client's API version. */
export function mergeDiskUsage(answers: { node: string; usage: DiskUsage | null | undefined }[], types: Set<DiskUsageType>, clientVersion: string): DiskUsage {
  const images: ImageSummary[] = [];
  const containers: ContainerSummary[] = [];
  const volumes: Volume[] = [];
  const cache: BuildCacheRecord[] = [];
  let layers = 0;
  const below142 = versionBelow(clientVersion, '1.42');
  const below144 = versionBelow(clientVersion, '1.44');
  for (const { node, usage } of answers) {
    if (!usage) continue;
    layers += Number(usage.LayersSize ?? 0) || 0;
    for (const img of usage.Images ?? []) {
      const out: ImageSummary = { ...img, RepoTags: img.RepoTags ? img.RepoTags.map((t) => qualifyTag(node, t)) : img.RepoTags };
      if (below144) out.VirtualSize = img.VirtualSize ?? img.Size;
      else delete out.VirtualSize;
      images.push(out);
    }
    for (const c of usage.Containers ?? []) containers.push({ ...c, Names: (c.Names ?? []).map((n) => `/${node}${n.startsWith('/') ? n : `/${n}`}`) });
    for (const v of usage.Volumes ?? []) volumes.push({ ...v, Name: v.Driver === 'local' ? `${node}/${v.Name}` : v.Name });
    for (const b of usage.BuildCache ?? []) {
      const out: BuildCacheRecord = { ...b };
      const parents = b.Parents ?? (b.Parent ? [b.Parent] : []);
      if (below142) {
        out.Parent = b.Parent || parents[0] || '';
        delete out.Parents;
      } else {
        out.Parents = parents.length ? parents : null;
        delete out.Parent;
      }
      cache.push(out);
    }
  }
  const du: DiskUsage = {
    LayersSize: types.has('image') ? layers : 0,
    Images: types.has('image') ? images : null,
    Containers: types.has('container') ? containers : null,
    Volumes: types.has('volume') ? volumes : null,
    BuildCache: types.has('build-cache') ? cache : null,
  };
  if (below142) du.BuilderSize = cache.reduce((sum, b) => sum + (Number(b.Size ?? 0) || 0), 0);
  return du;
}

export async function systemDf(ctx: RequestCtx): Promise<void> {
  ctx.req.resume();
  const clientVersion = clientApiVersion(ctx);
  const types = diskUsageTypes(ctx.query, clientVersion);
  // Engines below 1.42 ignore `type` and answer everything; the merge keeps what was asked.
  const { answers, failures } = await askEngines<DiskUsage | null>(targetEngines(ctx), 'GET', () => `/system/df${ctx.search}`);
  const merged = mergeDiskUsage(
    answers.map((a) => ({ node: a.engine.name, usage: a.body })),
    types,
    clientVersion,
  );
  const warnings = skippedNodes(ctx);
  const body = warnings.length ? { ...merged, Warnings: warnings } : merged;
  if (!failures.length) return sendJson(ctx.res, 200, body);
  const done = answers.length ? ` (answered: ${answers.map((a) => a.engine.name).join(', ')})` : '';
  sendJson(ctx.res, failureStatus(failures), { message: `disk usage failed on ${describeFailures(failures)}${done}`, ...body });
}
