/** Network and volume routes (spec §3.2): aggregated lists, placement for creates, owners for the rest. */
import type { NetworkConnectBody, NetworkCreateBody, NetworkResource, Volume, VolumeCreateBody } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { errorBodyMessage } from '../engine/http';
import { newSwarmId } from '../manager/scheduling';
import { AFFINITIES_LABEL, CONSTRAINTS_LABEL, WHITELISTS_LABEL } from '../scheduler/index';
import { passThrough, requireContainer } from './containers';
import { forward, proxyTo } from './proxy';
import { ApiError } from '../errors';
import { discardBody, labelsMatch, matchesPattern, parseFilters, readJsonObject, sendEmpty, sendJson } from './respond';
import type { RequestCtx } from './router';

const BUILTIN = new Set(['bridge', 'host', 'none']);
const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
/** Labels that place a volume on the nodes they select rather than on every node. */
const PLACEMENT_LABELS = [WHITELISTS_LABEL, CONSTRAINTS_LABEL, AFFINITIES_LABEL];

export function listNetworks(engines: Engine[], query: URLSearchParams): NetworkResource[] {
  const filters = parseFilters(query.get('filters'));
  for (const [k, vs] of filters) {
    if (!['name', 'id', 'type', 'label', 'driver', 'node', 'scope'].includes(k)) throw new ApiError(400, `invalid filter '${k}'`);
    if (k === 'type') for (const v of vs) if (v !== 'custom' && v !== 'builtin') throw new ApiError(400, `invalid filter: 'type'='${v}'`);
  }
  const out: NetworkResource[] = [];
  const seenGlobal = new Set<string>();
  for (const engine of engines) {
    for (const n of engine.networks.values()) {
      const global = n.Scope === 'global' || n.Scope === 'swarm';
      if (global) {
        if (seenGlobal.has(n.Id)) continue;
        seenGlobal.add(n.Id);
      }
      // v1 lists local networks as <node>/<name>. Compose v2 finds its project's networks by label and
      // then keeps only those whose listed Name is exactly its own, so those keep their bare name.
      const bare = global || n.Labels?.[COMPOSE_PROJECT_LABEL] !== undefined;
      const shown = { ...n, Name: bare ? n.Name : `${engine.name}/${n.Name}` };
      let ok = true;
      for (const [k, vs] of filters) {
        if (!vs.length) continue;
        if (k === 'name') ok = vs.some((v) => shown.Name.includes(v) || n.Name.includes(v));
        else if (k === 'id') ok = vs.some((v) => n.Id.startsWith(v));
        else if (k === 'driver') ok = vs.includes(n.Driver);
        else if (k === 'scope') ok = vs.includes(n.Scope);
        else if (k === 'node') ok = vs.some((v) => matchesPattern(v, engine.name) || v === engine.id);
        else if (k === 'type') ok = vs.some((v) => (v === 'builtin') === BUILTIN.has(n.Name));
        else if (k === 'label') ok = labelsMatch(n.Labels, vs);
        if (!ok) break;
      }
      if (ok) out.push(shown);
    }
  }
  return out;
}

/**
 * The one network `ref` designates. As in v1 (cluster/network.go) a name that several networks share
 * (`bridge`, local on every engine) designates none: 404 with v1's text (`notFound`), then which
 * networks bear the name, so the user can pick one as `<node>/<name>`.
 */
function requireNetwork(ctx: RequestCtx, ref: string, notFound: string): { engine: Engine; network: NetworkResource } {
  const hits = ctx.cluster.findNetworks(ref);
  const named = new Map<string, string>();
  for (const h of hits) if (!named.has(h.network.Id)) named.set(h.network.Id, h.network.Scope === 'local' ? `${h.engine.name}/${h.network.Name}` : h.network.Name);
  if (named.size === 0) throw new ApiError(404, notFound);
  if (named.size > 1) {
    const names = [...named.values()];
    const shown = names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ');
    throw new ApiError(404, `${notFound} (${names.length} networks are named ${ref}: ${shown}; name one as <node>/<name> or by ID)`);
  }
  return hits.find((h) => h.engine.isHealthy()) ?? hits[0]!;
}

function stringLabels(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}


/**
 * A compose project's networks are local to one engine and its containers follow them (the
 * local-network rule), so a project's next network goes where its first one is: a service attached
 * to two of them can then be placed. Soft, so labels with constraints still win.
 */
function projectColocation(ctx: RequestCtx, labels: Record<string, string>): string[] {
  const project = labels[COMPOSE_PROJECT_LABEL];
  if (!project) return [];
  for (const engine of ctx.cluster.registered()) {
    for (const n of engine.networks.values()) if (n.Labels?.[COMPOSE_PROJECT_LABEL] === project) return [`node==~${engine.name}`];
  }
  return [];
}

export async function createNetwork(ctx: RequestCtx): Promise<void> {
  const body = await readJsonObject<NetworkCreateBody>(ctx.req);
  if (!body?.Name) throw new ApiError(400, 'network name is required');
  let engine: Engine | undefined;
  const session = ctx.sessions?.session(ctx.req.headers, body);
  const slash = String(body.Name).indexOf('/');
  if (slash > 0) {
    engine = ctx.cluster.engineByNode(body.Name.slice(0, slash));
    if (!engine) throw new ApiError(404, `No such node: ${body.Name.slice(0, slash)}`);
    body.Name = body.Name.slice(slash + 1);
  } else {
    const labels = stringLabels(body.Labels);
    const soft = [...projectColocation(ctx, labels), ...(ctx.sessions?.constraints(session) ?? [])];
    engine = ctx.placer.placeByLabels(labels, soft);
  }
  const r = await forward(ctx.req, engine, '/networks/create', Buffer.from(JSON.stringify(body)));
  if (r.status < 300) await engine.refreshNetworks().catch(() => undefined);
  if (r.status >= 400) throw new ApiError(r.status, errorBodyMessage(r.body));
  ctx.sessions?.remember(session, engine.name);
  ctx.res.writeHead(201, { 'Content-Type': 'application/json' });
  ctx.res.end(r.body);
}

export async function inspectNetwork(ctx: RequestCtx): Promise<void> {
  const { engine, network } = requireNetwork(ctx, ctx.params.id!, `No such network: ${ctx.params.id!}`);
  await proxyTo(ctx.req, ctx.res, engine, `/networks/${network.Id}${ctx.search}`);
}

export function connectOrDisconnect(op: 'connect' | 'disconnect') {
  return async (ctx: RequestCtx) => {
    const body = await readJsonObject<NetworkConnectBody>(ctx.req);
    if (!body?.Container) throw new ApiError(400, 'Container is required');
    const { engine, container } = requireContainer(ctx.cluster, String(body.Container));
    const ref = ctx.params.id!;
    const bare = ref.includes('/') ? ref.slice(ref.indexOf('/') + 1) : ref;
    const hit = ctx.cluster.findNetworks(ref).find((h) => h.engine === engine) ?? ctx.cluster.findNetworks(bare).find((h) => h.engine === engine);
    if (!hit) throw new ApiError(404, `No such network: ${ref}`);
    body.Container = container.id;
    const r = await forward(ctx.req, engine, `/networks/${hit.network.Id}/${op}`, Buffer.from(JSON.stringify(body)));
    await Promise.all([engine.refreshNetworks(), engine.refreshContainer(container.id)]).catch(() => undefined);
    passThrough(ctx, r);
  };
}

export async function removeNetwork(ctx: RequestCtx): Promise<void> {
  // v1's text for a delete has no colon.
  const { engine, network } = requireNetwork(ctx, ctx.params.id!, `No such network ${ctx.params.id!}`);
  const r = await forward(ctx.req, engine, `/networks/${network.Id}`, Buffer.alloc(0));
  await engine.refreshNetworks().catch(() => undefined);
  if (r.status >= 400) throw new ApiError(r.status, errorBodyMessage(r.body));
  sendEmpty(ctx.res, 204);
}

// ---- volumes --------------------------------------------------------------------------------------

export function listVolumes(engines: Engine[], query: URLSearchParams): { Volumes: Volume[]; Warnings: null } {
  const filters = parseFilters(query.get('filters'));
  for (const k of filters.keys()) if (!['name', 'node', 'label', 'driver', 'dangling'].includes(k)) throw new ApiError(400, `invalid filter '${k}'`);
  const out: Volume[] = [];
  for (const engine of engines) {
    for (const v of engine.volumes.values()) {
      const shown = { ...v, Name: v.Driver === 'local' ? `${engine.name}/${v.Name}` : v.Name };
      let ok = true;
      for (const [k, vs] of filters) {
        if (!vs.length) continue;
        if (k === 'name') ok = vs.some((x) => shown.Name.includes(x));
        else if (k === 'node') ok = vs.some((x) => matchesPattern(x, engine.name) || x === engine.id);
        else if (k === 'driver') ok = vs.includes(v.Driver);
        else if (k === 'label') ok = labelsMatch(v.Labels, vs);
        if (!ok) break;
      }
      if (ok && !(v.Driver !== 'local' && out.some((o) => o.Name === v.Name))) out.push(shown);
    }
  }
  return { Volumes: out, Warnings: null };
}

export async function createVolume(ctx: RequestCtx): Promise<void> {
  const body = await readJsonObject<VolumeCreateBody>(ctx.req, {});
  const labels = stringLabels(body.Labels);
  let engines: Engine[];
  const name = String(body.Name ?? '');
  const slash = name.indexOf('/');
  if (slash > 0) {
    const e = ctx.cluster.engineByNode(name.slice(0, slash));
    if (!e) throw new ApiError(404, `No such node: ${name.slice(0, slash)}`);
    engines = [e];
    body.Name = name.slice(slash + 1);
  } else if (PLACEMENT_LABELS.some((l) => l in labels)) {
    // v1 places a volume with a whitelist label on every node the filters keep; constraints and
    // affinities in labels (beyond v1) work the same way. Drain is about containers: volumes ignore it.
    engines = ctx.placer.everyByLabels(labels);
    if (!body.Name) body.Name = newSwarmId();
  } else {
    engines = ctx.cluster.healthy();
    if (!body.Name) body.Name = newSwarmId();
  }
  if (!engines.length) throw new ApiError(500, 'No healthy node available in the cluster');
  const results = await Promise.all(engines.map(async (e) => ({ e, r: await forward(ctx.req, e, '/volumes/create', Buffer.from(JSON.stringify(body))) })));
  await Promise.all(results.map(({ e }) => e.refreshVolumes().catch(() => undefined)));
  const failed = results.find(({ r }) => r.status >= 300);
  if (failed) throw new ApiError(failed.r.status, `${failed.e.name}: ${errorBodyMessage(failed.r.body)}`);
  ctx.res.writeHead(201, { 'Content-Type': 'application/json' });
  ctx.res.end(results[0]!.r.body);
}

export async function inspectVolume(ctx: RequestCtx): Promise<void> {
  const hits = ctx.cluster.findVolumes(ctx.params.name!);
  if (!hits.length) throw new ApiError(404, `get ${ctx.params.name}: no such volume`);
  const hit = hits.find((h) => h.volume.Driver !== 'local') ?? hits.find((h) => h.engine.isHealthy()) ?? hits[0]!;
  await proxyTo(ctx.req, ctx.res, hit.engine, `/volumes/${encodeURIComponent(hit.volume.Name)}`);
}

export async function removeVolume(ctx: RequestCtx): Promise<void> {
  const hits = ctx.cluster.findVolumes(ctx.params.name!);
  if (!hits.length) throw new ApiError(404, `get ${ctx.params.name}: no such volume`);
  await discardBody(ctx.req);
  const results = await Promise.all(hits.map(async (h) => ({ h, r: await forward(ctx.req, h.engine, `/volumes/${encodeURIComponent(h.volume.Name)}${ctx.search}`, Buffer.alloc(0)) })));
  await Promise.all(hits.map((h) => h.engine.refreshVolumes().catch(() => undefined)));
  const failed = results.find(({ r }) => r.status >= 300);
  if (failed) throw new ApiError(failed.r.status, errorBodyMessage(failed.r.body));
  sendEmpty(ctx.res, 204);
}

export function listNetworksRoute(ctx: RequestCtx): void {
  sendJson(ctx.res, 200, listNetworks(ctx.cluster.registered(), ctx.query));
}

export function listVolumesRoute(ctx: RequestCtx): void {
  sendJson(ctx.res, 200, listVolumes(ctx.cluster.registered(), ctx.query));
}
