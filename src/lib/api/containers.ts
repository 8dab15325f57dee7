/** Container routes: list from cache, create through the scheduler, the rest proxied to the owner. */
import type http from 'node:http';
import type { ContainerInspect, ContainerSummary, ExecCreateBody, IdResponse, JsonObject, JsonValue, PortSummary } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { errorBodyMessage } from '../engine/http';
import { type Cluster, type FoundContainer } from '../manager/cluster';
import { createContainer, CreateError } from '../manager/create';
import { containerStatus } from './format';
import { forward, hijack, proxyTo } from './proxy';
import { HttpError, matchesPattern, parseFilters, readBody, readJson, sendEmpty, sendJson, truthy } from './respond';
import type { RequestCtx, Router, UpgradeCtx } from './router';

/** The container named in the path, on a healthy node, or the v1 error. */
export function requireContainer(cluster: Cluster, ref: string): FoundContainer {
  const found = cluster.findContainer(ref);
  if (!found) throw new HttpError(404, `No such container: ${ref}`);
  if (!found.engine.isHealthy()) throw new HttpError(500, `Container ${ref} running on unhealthy node ${found.engine.name}`);
  return found;
}

function rest(path: string, ref: string, id: string): string {
  return path.replace(`/containers/${encodeURIComponent(ref)}`, `/containers/${id}`).replace(`/containers/${ref}`, `/containers/${id}`);
}

/** Unspecified host IPs (0.0.0.0, ::, '') become the node's IP, as v1 shows them. */
function fixPortIp(ip: string | undefined, nodeIp: string): string {
  return !ip || ip === '0.0.0.0' || ip === '::' ? nodeIp : ip;
}

/** The engine lists a binding once for 0.0.0.0 and once for ::; both become the node IP. */
function dedupe<T>(list: T[]): T[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const k = JSON.stringify(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function isJsonObject(v: JsonValue): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---- list -----------------------------------------------------------------------------------------

/** A `docker ps` entry: the engine's summary with the node-qualified names, fresh state and status. */
export type ListedContainer = ContainerSummary & {
  Names: string[];
  State: string;
  Status: string;
  Ports: PortSummary[];
};

export function listContainers(cluster: Cluster, query: URLSearchParams, now = Date.now()): ListedContainer[] {
  const filters = parseFilters(query.get('filters'));
  const all = truthy(query.get('all'));
  const limit = Number(query.get('limit') ?? '-1') || -1;
  const before = query.get('before');
  const showAll = all || !!before || limit > 0;
  const out: ListedContainer[] = [];
  for (const engine of cluster.registered()) {
    for (const c of engine.containers.values()) {
      const s = c.summary;
      if (!s) continue;
      if (String(s.Image ?? '').split(':')[0] === 'swarm') continue;
      const state: string = c.inspect?.State?.Status ?? s.State ?? '';
      if (!showAll && (state !== 'running' && state !== 'paused' && state !== 'restarting' || !engine.isHealthy())) continue;
      if (!matchContainer(filters, engine, c.summary, c.inspect, state)) continue;
      const names = (s.Names ?? []).map((n) => `/${engine.name}${n.startsWith('/') ? n : '/' + n}`);
      out.push({
        ...s,
        Names: names,
        State: state,
        Status: engine.isHealthy() ? containerStatus(c.inspect?.State, s.Status ?? '', now) : 'Host Down',
        Ports: dedupe((s.Ports ?? []).map((p) => (p.PublicPort ? { ...p, IP: fixPortIp(p.IP, engine.ip) } : p))),
      });
    }
  }
  out.sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0));
  if (before) {
    const i = out.findIndex((c) => c.Id === before || c.Id.startsWith(before) || c.Names.some((n) => n.endsWith('/' + before)));
    if (i < 0) throw new HttpError(404, `No such container: ${before}`);
    out.splice(0, i + 1);
  }
  return limit > 0 ? out.slice(0, limit) : out;
}

function matchContainer(filters: Map<string, string[]>, engine: Engine, s: ContainerSummary, inspect: ContainerInspect | undefined, state: string): boolean {
  for (const [key, values] of filters) {
    if (!values.length) continue;
    const names = (s.Names ?? []).map((n) => n.replace(/^\//, ''));
    let ok: boolean;
    switch (key) {
      case 'name':
        ok = values.some((v) => names.some((n) => matchesPattern(v, n) || matchesPattern(v, `${engine.name}/${n}`)));
        break;
      case 'id':
        ok = values.some((v) => s.Id.startsWith(v));
        break;
      case 'label':
        ok = values.every((v) => {
          const i = v.indexOf('=');
          const labels = s.Labels ?? {};
          return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
        });
        break;
      case 'status':
        for (const v of values) {
          if (!['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'].includes(v)) throw new HttpError(400, `invalid filter 'status=${v}'`);
        }
        ok = values.includes(state);
        break;
      case 'node':
        ok = values.some((v) => matchesPattern(v, engine.name) || v === engine.id || v === engine.daemonId);
        break;
      case 'exited':
        ok = state === 'exited' && values.some((v) => Number(v) === inspect?.State?.ExitCode);
        break;
      case 'health': {
        const h = inspect?.State?.Health?.Status ?? 'none';
        ok = values.includes(h);
        break;
      }
      case 'ancestor':
        ok = values.some((v) => s.Image === v || s.ImageID === v || String(s.Image).split(':')[0] === v || s.ImageID?.replace('sha256:', '').startsWith(v));
        break;
      case 'volume':
        ok = values.some((v) => (s.Mounts ?? []).some((m) => m.Name === v || m.Destination === v || m.Source === v));
        break;
      case 'network':
        ok = values.some((v) => Object.entries(s.NetworkSettings?.Networks ?? {}).some(([n, cfg]) => n === v || cfg?.NetworkID === v));
        break;
      case 'is-task':
        ok = values.includes('false');
        break;
      default:
        throw new HttpError(400, `invalid filter '${key}'`);
    }
    if (!ok) return false;
  }
  return true;
}

/** --refresh-on-node-filter and --container-name-refresh-filter: re-read engines before listing. */
async function refreshBeforeList(ctx: RequestCtx): Promise<void> {
  if (!ctx.refreshOnNodeFilter && !ctx.containerNameRefreshFilter) return;
  const filters = parseFilters(ctx.query.get('filters'));
  let engines: Engine[] = [];
  if (ctx.containerNameRefreshFilter && (filters.get('name') ?? []).includes(ctx.containerNameRefreshFilter)) engines = ctx.cluster.healthy();
  else if (ctx.refreshOnNodeFilter && filters.get('node')?.length) {
    const nodes = filters.get('node')!;
    engines = ctx.cluster.healthy().filter((e) => nodes.some((n) => matchesPattern(n, e.name) || n === e.id));
  }
  await Promise.all(engines.map((e) => e.refreshContainers(true).catch(() => undefined)));
}

// ---- create ---------------------------------------------------------------------------------------

async function createContainerRoute(ctx: RequestCtx): Promise<void> {
  const body = await readJson<JsonValue>(ctx.req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'invalid JSON in request body: expected an object');
  const name = (ctx.query.get('name') ?? '').replace(/^\//, '');
  try {
    const created: unknown = await createContainer(ctx.cluster, ctx.placer, body, name, ctx.req.headers['x-registry-auth'] as string | undefined);
    sendJson(ctx.res, 201, created);
  } catch (err) {
    if (err instanceof CreateError) throw new HttpError(err.status, err.message);
    throw err;
  }
}

// ---- per-container --------------------------------------------------------------------------------

async function inspectContainer(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  const r = await forward(ctx.req, engine, `/containers/${container.id}/json${ctx.search}`);
  if (r.status !== 200) throw new HttpError(r.status, errorBodyMessage(r.body));
  const c = JSON.parse(r.body.toString()) as ContainerInspect;
  c.Node = {
    ID: engine.id,
    IP: engine.ip,
    Addr: engine.addr,
    Name: engine.name,
    Cpus: engine.rawCpus,
    Memory: engine.rawMemory,
    Labels: engine.labels,
  };
  const ports = c.NetworkSettings?.Ports;
  if (ports) {
    for (const [k, list] of Object.entries(ports)) {
      if (list) ports[k] = dedupe(list.map((b) => ({ ...b, HostIp: fixPortIp(b.HostIp, engine.ip) })));
    }
  }
  sendJson(ctx.res, 200, c);
}

async function startContainer(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  await readBody(ctx.req); // v1 disallows HostConfig on start: the body is ignored
  const r = await forward(ctx.req, engine, `/containers/${container.id}/start${ctx.search}`, Buffer.alloc(0), undefined, 0);
  await engine.refreshContainer(container.id).catch(() => undefined);
  if (r.status === 204 || r.status === 304) return sendEmpty(ctx.res, 204);
  throw new HttpError(r.status === 404 ? 404 : r.status === 409 ? 409 : 500, errorBodyMessage(r.body));
}

/** Buffered pass-through, then a refresh of the container, so `docker ps` right after is right. */
function proxyAndRefresh(op: string) {
  return async (ctx: RequestCtx) => {
    const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
    const body = await readBody(ctx.req);
    const r = await forward(ctx.req, engine, `/containers/${container.id}/${op}${ctx.search}`, body, undefined, 0);
    await engine.refreshContainer(container.id).catch(() => undefined);
    passThrough(ctx, r);
  };
}

export function passThrough(ctx: RequestCtx, r: { status: number; headers: http.IncomingHttpHeaders; body: Buffer }): void {
  if (r.status >= 400) throw new HttpError(r.status, errorBodyMessage(r.body));
  const headers: Record<string, string> = {};
  if (r.headers['content-type']) headers['Content-Type'] = r.headers['content-type'];
  headers['Content-Length'] = String(r.body.length);
  ctx.res.writeHead(r.status, headers);
  ctx.res.end(r.body);
}

/** Streaming pass-through (logs, stats, export, archive, wait...). */
function streamProxy(op: string, refreshAfter = false) {
  return async (ctx: RequestCtx) => {
    const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
    await proxyTo(ctx.req, ctx.res, engine, `/containers/${container.id}${op}${ctx.search}`, {
      after: refreshAfter ? () => engine.refreshContainer(container.id).then(() => undefined) : undefined,
    });
  };
}

async function renameContainer(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  const name = (ctx.query.get('name') ?? '').replace(/^\//, '');
  if (name && ctx.cluster.nameTaken(name)) {
    throw new HttpError(409, `Conflict: The name ${name} is already assigned. You have to delete (or rename) that container to be able to assign ${name} to a container again.`);
  }
  const r = await forward(ctx.req, engine, `/containers/${container.id}/rename${ctx.search}`, Buffer.alloc(0));
  await engine.refreshContainer(container.id).catch(() => undefined);
  if (r.status >= 400) throw new HttpError(r.status, errorBodyMessage(r.body));
  sendEmpty(ctx.res, 204);
}

async function removeContainer(ctx: RequestCtx): Promise<void> {
  const found = ctx.cluster.findContainer(ctx.params.name!);
  if (!found) throw new HttpError(404, `No such container: ${ctx.params.name}`);
  const { engine, container } = found;
  const r = await forward(ctx.req, engine, `/containers/${container.id}${ctx.search}`, Buffer.alloc(0), undefined, 0);
  if (r.status >= 400) throw new HttpError(r.status, errorBodyMessage(r.body));
  engine.forgetContainer(container.id);
  sendEmpty(ctx.res, 204);
}

async function createExec(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  const body = await readJson<JsonValue>(ctx.req);
  const exec: ExecCreateBody | undefined = isJsonObject(body) ? body : undefined; // a non-object has no Cmd
  if (!exec?.Cmd || (Array.isArray(exec.Cmd) && exec.Cmd.length === 0)) throw new HttpError(400, 'No exec command specified');
  const r = await forward(ctx.req, engine, `/containers/${container.id}/exec`, Buffer.from(JSON.stringify(body)));
  if (r.status === 201) engine.execs.add((JSON.parse(r.body.toString()) as IdResponse).Id);
  passThrough(ctx, r);
}

function execEngine(cluster: Cluster, id: string): Engine {
  const engine = cluster.findExec(id);
  if (!engine) throw new HttpError(404, `No such exec instance: ${id}`);
  return engine;
}

async function startExec(ctx: RequestCtx): Promise<void> {
  const engine = execEngine(ctx.cluster, ctx.params.id!);
  await proxyTo(ctx.req, ctx.res, engine, ctx.path + ctx.search);
}

function startExecHijack(ctx: UpgradeCtx): void {
  const engine = execEngine(ctx.cluster, ctx.params.id!);
  hijack(ctx.req, ctx.socket, ctx.head, engine, ctx.path + ctx.search);
}

function attachHijack(ctx: UpgradeCtx): void {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  hijack(ctx.req, ctx.socket, ctx.head, engine, rest(ctx.path, ctx.params.name!, container.id) + ctx.search);
}

async function execProxy(ctx: RequestCtx): Promise<void> {
  const engine = execEngine(ctx.cluster, ctx.params.id!);
  await proxyTo(ctx.req, ctx.res, engine, ctx.path + ctx.search);
}

async function commit(ctx: RequestCtx): Promise<void> {
  const ref = ctx.query.get('container') ?? '';
  const { engine, container } = requireContainer(ctx.cluster, ref);
  const q = new URLSearchParams(ctx.query);
  q.set('container', container.id);
  const body = await readBody(ctx.req);
  const r = await forward(ctx.req, engine, `/commit?${q}`, body);
  if (r.status === 201) await engine.refreshImages().catch(() => undefined);
  passThrough(ctx, r);
}

export function containerRoutes(router: Router): void {
  const list = async (ctx: RequestCtx) => {
    await refreshBeforeList(ctx);
    sendJson(ctx.res, 200, listContainers(ctx.cluster, ctx.query));
  };
  router.add('GET', '/containers/json', list);
  router.add('GET', '/containers/ps', list);
  router.add('POST', '/containers/create', createContainerRoute);
  router.add('GET', '/containers/{name*}/json', inspectContainer);
  router.add('POST', '/containers/{name*}/start', startContainer);
  for (const op of ['stop', 'kill', 'restart', 'pause', 'unpause', 'update']) router.add('POST', `/containers/{name*}/${op}`, proxyAndRefresh(op));
  router.add('POST', '/containers/{name*}/rename', renameContainer);
  router.add('DELETE', '/containers/{name*}', removeContainer);
  router.add('POST', '/containers/{name*}/wait', streamProxy('/wait', true));
  for (const op of ['logs', 'stats', 'top', 'changes', 'export']) router.add('GET', `/containers/{name*}/${op}`, streamProxy(`/${op}`));
  router.add('GET|HEAD|PUT', '/containers/{name*}/archive', streamProxy('/archive'));
  router.add('POST', '/containers/{name*}/copy', streamProxy('/copy'));
  router.add('POST', '/containers/{name*}/resize', streamProxy('/resize'));
  router.add('POST', '/containers/{name*}/attach', streamProxy('/attach', true), attachHijack);
  router.add('GET', '/containers/{name*}/attach/ws', streamProxy('/attach/ws'), attachHijack);
  router.add('POST', '/containers/{name*}/exec', createExec);
  router.add('POST', '/exec/{id}/start', startExec, startExecHijack);
  router.add('GET', '/exec/{id}/json', execProxy);
  router.add('POST', '/exec/{id}/resize', execProxy);
  router.add('POST', '/commit', commit);
}

