/** Container routes: list from cache, create through the scheduler, the rest proxied to the owner. */
import type http from 'node:http';
import type { ContainerInspect, ContainerSummary, ExecCreateBody, IdResponse, JsonObject, JsonValue, PortSummary } from '../engine/docker-types';
import type { CachedContainer, Engine } from '../engine/engine';
import { errorBodyMessage } from '../engine/http';
import { primaryNames, type Cluster, type FoundContainer } from '../manager/cluster';
import { createContainer } from '../manager/create';
import { nameConflictMessage } from '../manager/scheduling';
import type { PortView } from '../manager/publish-proxy';
import { isGlobalCreateBody } from '../scheduler/index';
import { containerStatus, rfc3339Nanos } from './format';
import { createGlobal, noSuchContainer } from './global';
import { forward, hijack, proxyTo } from './proxy';
import { ApiError } from '../errors';
import { discardBody, labelsMatch, matchesPattern, parseFilters, patternMatcher, readBody, readJson, sendEmpty, sendJson, truthy } from './respond';
import type { RequestCtx, UpgradeCtx } from './router';

/** The container named in the path, on a healthy node, or the v1 error. */
export function requireContainer(cluster: Cluster, ref: string): FoundContainer {
  const found = cluster.findContainer(ref);
  if (!found) throw new ApiError(404, noSuchContainer(cluster, ref));
  if (!found.engine.isHealthy()) throw new ApiError(500, `Container ${ref} running on unhealthy node ${found.engine.name}`);
  return found;
}

function rest(path: string, ref: string, id: string): string {
  return path.replace(`/containers/${encodeURIComponent(ref)}`, `/containers/${id}`).replace(`/containers/${ref}`, `/containers/${id}`);
}

/** Unspecified host IPs (0.0.0.0, ::, '') become the node's IP, as v1 shows them. */
function fixPortIp(ip: string | undefined, nodeIp: string): string {
  return !ip || ip === '0.0.0.0' || ip === '::' ? nodeIp : ip;
}

/** A published port as reported: where the publish proxy listens for it, else on the node (v1). */
function reportedPort(engine: Engine, proto: string, ip: string | undefined, port: number, publish?: PortView): { ip: string; port: number } {
  return publish?.managerBinding(engine, proto, ip, port) ?? { ip: fixPortIp(ip, engine.ip), port };
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

/**
 * `docker ps -s`: sizes are costly for the engine to compute, so they are not cached; they are asked
 * of the engines that hold listed containers, at once, when a client wants them (a node that does not
 * answer in time leaves its containers without sizes).
 */
async function addSizes(cluster: Cluster, listed: ListedContainer[]): Promise<void> {
  const wanted = new Set(listed.map((c) => c.Id));
  const engines = cluster.registered().filter((e) => e.isHealthy());
  const sizes = new Map<string, { SizeRw?: unknown; SizeRootFs?: unknown }>();
  await Promise.all(
    engines.map(async (engine) => {
      try {
        const rows = await engine.json<unknown>('GET', '/containers/json?all=1&size=1', { timeoutMs: 60_000 });
        if (!Array.isArray(rows)) return;
        for (const r of rows as { Id?: unknown; SizeRw?: unknown; SizeRootFs?: unknown }[]) {
          if (typeof r?.Id === 'string' && wanted.has(r.Id)) sizes.set(r.Id, { SizeRw: r.SizeRw, SizeRootFs: r.SizeRootFs });
        }
      } catch {
        /* sizes of that node stay unknown */
      }
    }),
  );
  for (const c of listed) {
    const s = sizes.get(c.Id);
    if (typeof s?.SizeRw === 'number') c.SizeRw = s.SizeRw;
    if (typeof s?.SizeRootFs === 'number') c.SizeRootFs = s.SizeRootFs;
  }
}

// ---- list -----------------------------------------------------------------------------------------

/** A `docker ps` entry: the engine's summary with the node-qualified names, fresh state and status. */
export type ListedContainer = ContainerSummary & {
  Names: string[];
  State: string;
  Status: string;
  Ports: PortSummary[];
};

const STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];
const HEALTH_STATES = ['starting', 'healthy', 'unhealthy', 'none'];
/** v1 (and swarm mode) mark task containers with this label; `is-task` tests its presence. */
const TASK_LABEL = 'com.docker.swarm.task';

interface Row {
  engine: Engine;
  c: CachedContainer;
  state: string;
  created: bigint;
}

// Engines replace a container's inspect (or summary) object when it changes: parsed once per object.
const createdCache = new WeakMap<object, bigint>();

/** v1 orders by inspect's `Created` (nanoseconds); the list's seconds when there is no inspect yet. */
function createdOf(c: CachedContainer): bigint {
  const key = c.inspect ?? c.summary;
  let t = createdCache.get(key);
  if (t === undefined) {
    t = rfc3339Nanos(typeof c.inspect?.Created === 'string' ? c.inspect.Created : undefined) ?? BigInt(c.summary.Created ?? 0) * 1_000_000_000n;
    createdCache.set(key, t);
  }
  return t;
}

/** The container's own name without the leading `/` (its link aliases are not names of its own). */
function primaryName(c: CachedContainer): string | undefined {
  return primaryNames(c)[0] ?? (c.inspect?.Name ? c.inspect.Name.replace(/^\//, '') : undefined);
}

/** One `publish`/`expose` value as dockerd reads it: `80`, `80/udp`, `8000-8080/tcp`. */
interface PortRange {
  start: number;
  end: number;
  proto: string;
}

function parsePort(key: string, value: string, port: string): number {
  if (!/^\d+$/.test(port)) throw new ApiError(400, `error while looking up for ${key} ${value}: strconv.ParseUint: parsing "${port}": invalid syntax`);
  const n = Number(port);
  if (n > 65535) throw new ApiError(400, `error while looking up for ${key} ${value}: strconv.ParseUint: parsing "${port}": value out of range`);
  return n;
}

function parsePortFilter(key: string, value: string): PortRange {
  if (value.includes(':')) throw new ApiError(400, `filter for '${key}' should not contain ':': ${value}`);
  const [port = '', proto] = value.split('/');
  if (!port) throw new ApiError(400, `error while looking up for ${key} ${value}: empty string specified for ports`);
  const [lo = '', hi] = port.split('-');
  const start = parsePort(key, value, lo);
  const end = hi === undefined ? start : parsePort(key, value, hi);
  if (end < start) throw new ApiError(400, `error while looking up for ${key} ${value}: invalid range specified for port: ${port}`);
  return { start, end, proto: proto || 'tcp' };
}

const inRanges = (ranges: PortRange[], port: number | undefined, proto: string) => port !== undefined && ranges.some((r) => r.proto === proto && port >= r.start && port <= r.end);

/** The `since`/`before` filter's container (the last value, as dockerd), by ID, name or `<node>/<name>`. */
function positionRef(cluster: Cluster, filters: Map<string, string[]>, key: 'since' | 'before'): string | undefined {
  const ref = filters.get(key)?.at(-1);
  if (ref === undefined) return undefined;
  const found = cluster.findContainer(ref);
  if (!found) throw new ApiError(404, `No such container: ${ref}`);
  return found.container.id;
}

/**
 * The filter of `docker ps` (v1's filters, and dockerd's `publish`, `expose`, `since`, `before`,
 * `ancestor`); values are checked once, up front, so a bad one is a 400 even on an empty cluster.
 */
function containerFilter(filters: Map<string, string[]>): (row: Row) => boolean {
  const tests: ((row: Row) => boolean)[] = [];
  const ports: { publish: PortRange[]; expose: PortRange[] } = { publish: [], expose: [] };
  for (const [key, values] of filters) {
    if (!values.length) continue;
    switch (key) {
      case 'name': {
        // dockerd matches the name with its leading `/` and without (v1 without); also `<node>/<name>`, as ps shows it.
        const ms = values.map(patternMatcher);
        tests.push(({ engine, c }) => {
          const n = primaryName(c);
          if (n === undefined) return false;
          const forms = [n, `/${n}`, `${engine.name}/${n}`];
          return ms.some((m) => forms.some(m));
        });
        break;
      }
      case 'id':
        tests.push(({ c }) => values.some((v) => c.id.startsWith(v)));
        break;
      case 'label':
        tests.push(({ c }) => labelsMatch(c.summary.Labels, values));
        break;
      case 'status':
        for (const v of values) if (!STATES.includes(v)) throw new ApiError(400, `invalid filter 'status=${v}'`);
        tests.push(({ state }) => values.includes(state));
        break;
      case 'node': {
        const ms = values.map(patternMatcher);
        tests.push(({ engine }) => values.some((v, i) => ms[i]!(engine.name) || v === engine.id || v === engine.daemonId));
        break;
      }
      case 'exited': {
        const codes = values.map((v) => {
          if (!/^[+-]?\d+$/.test(v)) throw new ApiError(400, `invalid filter 'exited=${v}'`);
          return Number(v);
        });
        tests.push(({ c, state }) => state === 'exited' && codes.includes(c.inspect?.State?.ExitCode ?? NaN));
        break;
      }
      case 'health':
        for (const v of values) if (!HEALTH_STATES.includes(v)) throw new ApiError(400, `Unrecognised filter value for health: ${v}`);
        tests.push(({ c }) => values.includes(c.inspect?.State?.Health?.Status ?? 'none'));
        break;
      case 'ancestor':
        tests.push(({ c: { summary: s } }) =>
          values.some((v) => s.Image === v || s.ImageID === v || String(s.Image).split(':')[0] === v || s.ImageID?.replace('sha256:', '').startsWith(v)),
        );
        break;
      case 'volume':
        tests.push(({ c }) => values.some((v) => (c.summary.Mounts ?? []).some((m) => m.Name === v || m.Destination === v || m.Source === v)));
        break;
      case 'network': {
        // A name, an ID prefix, or either behind `<node>/` (the form `docker network ls` shows).
        const wanted = values.map((v) => {
          const i = v.indexOf('/');
          return i < 0 ? { node: undefined, net: v } : { node: v.slice(0, i), net: v.slice(i + 1) };
        });
        tests.push(({ engine, c }) => {
          const nets = Object.entries(c.summary.NetworkSettings?.Networks ?? {});
          return wanted.some(
            ({ node, net }) => (node === undefined || node === engine.name) && net !== '' && nets.some(([name, cfg]) => name === net || !!cfg?.NetworkID?.startsWith(net)),
          );
        });
        break;
      }
      case 'is-task': {
        const want = values.includes('true') ? true : values.includes('false') ? false : undefined;
        if (want === undefined) throw new ApiError(400, `invalid filter 'is-task=${values.join(',')}'`);
        tests.push(({ c }) => Object.hasOwn(c.summary.Labels ?? {}, TASK_LABEL) === want);
        break;
      }
      case 'publish':
      case 'expose':
        for (const v of values) ports[key].push(parsePortFilter(key, v));
        break;
      case 'since':
      case 'before':
        break; // positions, see listContainers
      default:
        throw new ApiError(400, `invalid filter '${key}'`);
    }
  }
  if (ports.publish.length || ports.expose.length) {
    // dockerd: a container passes when one of its ports is published as asked or exposed as asked.
    tests.push(({ c }) =>
      (c.summary.Ports ?? []).some((p) => inRanges(ports.publish, p.PublicPort, p.Type ?? 'tcp') || inRanges(ports.expose, p.PrivatePort, p.Type ?? 'tcp')),
    );
  }
  return (row) => tests.every((t) => t(row));
}

export function listContainers(cluster: Cluster, query: URLSearchParams, now = Date.now(), publish?: PortView): ListedContainer[] {
  const filters = parseFilters(query.get('filters'));
  const matches = containerFilter(filters);
  const limit = Number(query.get('limit') ?? '-1') || -1;
  const before = query.get('before');
  // A status filter lists stopped containers without -a, as dockerd does (v1: only status=exited).
  const showAll = truthy(query.get('all')) || !!before || limit > 0 || !!filters.get('status')?.length;
  const sinceId = positionRef(cluster, filters, 'since');
  const beforeId = positionRef(cluster, filters, 'before');
  const rows: Row[] = [];
  for (const engine of cluster.registered()) {
    for (const c of engine.containers.values()) {
      if (!c.summary) continue;
      rows.push({ engine, c, state: c.inspect?.State?.Status ?? c.summary.State ?? '', created: createdOf(c) });
    }
  }
  const newestFirst = (a: Row, b: Row) => (a.created === b.created ? 0 : a.created < b.created ? 1 : -1);
  let candidates = rows;
  if (sinceId !== undefined || beforeId !== undefined) {
    // since/before keep the containers created after/before the given one, whatever else filters out.
    rows.sort(newestFirst);
    const lo = beforeId === undefined ? 0 : rows.findIndex((r) => r.c.id === beforeId) + 1;
    const hi = sinceId === undefined ? rows.length : rows.findIndex((r) => r.c.id === sinceId);
    candidates = rows.slice(lo, Math.max(lo, hi));
  }
  const kept = candidates.filter((row) => {
    const { engine, state } = row;
    if (String(row.c.summary.Image ?? '').split(':')[0] === 'swarm') return false;
    if (!showAll && ((state !== 'running' && state !== 'paused' && state !== 'restarting') || !engine.isHealthy())) return false;
    return matches(row);
  });
  kept.sort(newestFirst);
  const out: ListedContainer[] = [];
  for (const { engine, c, state } of kept) {
    const s = c.summary;
    const names = (s.Names ?? []).map((n) => `/${engine.name}${n.startsWith('/') ? n : '/' + n}`);
    out.push({
      ...s,
      Names: names,
      State: state,
      Status: engine.isHealthy() ? containerStatus(c.inspect?.State, s.Status ?? '', now) : 'Host Down',
      Ports: dedupe(
        (s.Ports ?? []).map((p) => {
          if (!p.PublicPort) return p;
          const r = reportedPort(engine, p.Type ?? 'tcp', p.IP, p.PublicPort, publish);
          return { ...p, IP: r.ip, PublicPort: r.port };
        }),
      ),
    });
  }
  if (before) {
    const i = out.findIndex((c) => c.Id === before || c.Id.startsWith(before) || c.Names.some((n) => n.endsWith('/' + before)));
    if (i < 0) throw new ApiError(404, `No such container: ${before}`);
    out.splice(0, i + 1);
  }
  return limit > 0 ? out.slice(0, limit) : out;
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

export async function createContainerRoute(ctx: RequestCtx): Promise<void> {
  const body = await readJson<JsonValue>(ctx.req);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid JSON in request body: expected an object');
  const name = (ctx.query.get('name') ?? '').replace(/^\//, '');
  // Beyond v1: a global container, one copy on every node (swarm.session-affinity does not apply).
  if (isGlobalCreateBody(body)) return sendJson(ctx.res, 201, await createGlobal(ctx, body, name, ctx.req.headers['x-registry-auth'] as string | undefined));
  // --cluster-opt swarm.session-affinity: next to the session's other containers and networks (soft).
  const session = ctx.sessions?.session(ctx.req.headers, body);
  const placementConstraints = ctx.sessions?.constraints(session) ?? [];
  const created = await createContainer(ctx.placer, body, name, ctx.req.headers['x-registry-auth'] as string | undefined, placementConstraints.length ? { placementConstraints } : {});
  ctx.sessions?.remember(session, ctx.cluster.findContainer(created.Id)?.engine.name);
  sendJson(ctx.res, 201, created);
}

// ---- per-container --------------------------------------------------------------------------------

export async function inspectContainer(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  const r = await forward(ctx.req, engine, `/containers/${container.id}/json${ctx.search}`);
  if (r.status !== 200) throw new ApiError(r.status, errorBodyMessage(r.body));
  const c = JSON.parse(r.body.toString()) as ContainerInspect;
  await ctx.publish?.settle();
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
      const proto = k.split('/')[1] ?? 'tcp';
      if (list) {
        ports[k] = dedupe(
          list.map((b) => {
            const hostPort = Number(b.HostPort);
            if (!b.HostPort || !Number.isInteger(hostPort)) return { ...b, HostIp: fixPortIp(b.HostIp, engine.ip) };
            const r = reportedPort(engine, proto, b.HostIp, hostPort, ctx.publish);
            return { ...b, HostIp: r.ip, HostPort: String(r.port) };
          }),
        );
      }
    }
  }
  sendJson(ctx.res, 200, c);
}

export async function startContainer(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  await discardBody(ctx.req); // v1 disallows HostConfig on start: the body is ignored
  const r = await forward(ctx.req, engine, `/containers/${container.id}/start${ctx.search}`, Buffer.alloc(0), undefined, 0);
  // Started: the cache learns it without another call (engine.containerStarted); a refusal may have
  // changed the container's state (exit code, error): that is read.
  if (r.status === 204) await engine.containerStarted(container.id).catch(() => undefined);
  else if (r.status !== 304 || engine.containers.get(container.id)?.summary.State !== 'running') await engine.refreshContainer(container.id).catch(() => undefined);
  if (r.status === 204 || r.status === 304) return sendEmpty(ctx.res, 204);
  throw new ApiError(r.status === 404 ? 404 : r.status === 409 ? 409 : 500, errorBodyMessage(r.body));
}

/** Buffered pass-through, then a refresh of the container, so `docker ps` right after is right. */
export function proxyAndRefresh(op: string) {
  return async (ctx: RequestCtx) => {
    const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
    const body = await readBody(ctx.req);
    const r = await forward(ctx.req, engine, `/containers/${container.id}/${op}${ctx.search}`, body, undefined, 0);
    await engine.refreshContainer(container.id).catch(() => undefined);
    passThrough(ctx, r);
  };
}

export function passThrough(ctx: RequestCtx, r: { status: number; headers: http.IncomingHttpHeaders; body: Buffer }): void {
  if (r.status >= 400) throw new ApiError(r.status, errorBodyMessage(r.body));
  const headers: Record<string, string> = {};
  if (r.headers['content-type']) headers['Content-Type'] = r.headers['content-type'];
  headers['Content-Length'] = String(r.body.length);
  ctx.res.writeHead(r.status, headers);
  ctx.res.end(r.body);
}

/** Streaming pass-through (logs, stats, export, archive, wait...). */
export function streamProxy(op: string, refreshAfter = false, noBody = false) {
  return async (ctx: RequestCtx) => {
    const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
    if (noBody) ctx.req.resume();
    await proxyTo(ctx.req, ctx.res, engine, `/containers/${container.id}${op}${ctx.search}`, {
      after: refreshAfter ? () => engine.refreshContainer(container.id).then(() => undefined) : undefined,
      body: noBody ? Buffer.alloc(0) : undefined,
    });
  };
}

export async function renameContainer(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  const name = (ctx.query.get('name') ?? '').replace(/^\//, '');
  if (name && ctx.placer.nameTaken(name)) throw new ApiError(409, nameConflictMessage(name));
  const r = await forward(ctx.req, engine, `/containers/${container.id}/rename${ctx.search}`, Buffer.alloc(0));
  await engine.refreshContainer(container.id).catch(() => undefined);
  if (r.status >= 400) throw new ApiError(r.status, errorBodyMessage(r.body));
  sendEmpty(ctx.res, 204);
}

export async function removeContainer(ctx: RequestCtx): Promise<void> {
  const found = ctx.cluster.findContainer(ctx.params.name!);
  if (!found) throw new ApiError(404, `No such container: ${ctx.params.name}`);
  const { engine, container } = found;
  const r = await forward(ctx.req, engine, `/containers/${container.id}${ctx.search}`, Buffer.alloc(0), undefined, 0);
  if (r.status >= 400) throw new ApiError(r.status, errorBodyMessage(r.body));
  engine.forgetContainer(container.id);
  sendEmpty(ctx.res, 204);
}

export async function createExec(ctx: RequestCtx): Promise<void> {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  const body = await readJson<JsonValue>(ctx.req);
  const exec: ExecCreateBody | undefined = isJsonObject(body) ? body : undefined; // a non-object has no Cmd
  if (!exec?.Cmd || (Array.isArray(exec.Cmd) && exec.Cmd.length === 0)) throw new ApiError(400, 'No exec command specified');
  const r = await forward(ctx.req, engine, `/containers/${container.id}/exec`, Buffer.from(JSON.stringify(body)));
  if (r.status === 201) engine.execCreated((JSON.parse(r.body.toString()) as IdResponse).Id, container.id);
  passThrough(ctx, r);
}

function execEngine(cluster: Cluster, id: string): Engine {
  const engine = cluster.findExec(id);
  if (!engine) throw new ApiError(404, `No such exec instance: ${id}`);
  return engine;
}

export async function startExec(ctx: RequestCtx): Promise<void> {
  const engine = execEngine(ctx.cluster, ctx.params.id!);
  await proxyTo(ctx.req, ctx.res, engine, ctx.path + ctx.search);
}

export function startExecHijack(ctx: UpgradeCtx): void {
  const engine = execEngine(ctx.cluster, ctx.params.id!);
  hijack(ctx.req, ctx.socket, ctx.head, engine, ctx.path + ctx.search);
}

export function attachHijack(ctx: UpgradeCtx): void {
  const { engine, container } = requireContainer(ctx.cluster, ctx.params.name!);
  // Attach takes no body: dockerd would read one as the container's stdin.
  hijack(ctx.req, ctx.socket, ctx.head, engine, rest(ctx.path, ctx.params.name!, container.id) + ctx.search, { forwardBody: false });
}

export async function execProxy(ctx: RequestCtx): Promise<void> {
  const engine = execEngine(ctx.cluster, ctx.params.id!);
  await proxyTo(ctx.req, ctx.res, engine, ctx.path + ctx.search);
}

export async function commit(ctx: RequestCtx): Promise<void> {
  const ref = ctx.query.get('container') ?? '';
  const { engine, container } = requireContainer(ctx.cluster, ref);
  const q = new URLSearchParams(ctx.query);
  q.set('container', container.id);
  const body = await readBody(ctx.req);
  const r = await forward(ctx.req, engine, `/commit?${q}`, body);
  if (r.status === 201) await engine.refreshImages().catch(() => undefined);
  passThrough(ctx, r);
}

export async function listContainersRoute(ctx: RequestCtx): Promise<void> {
  await refreshBeforeList(ctx);
  await ctx.publish?.settle();
  const listed = listContainers(ctx.cluster, ctx.query, Date.now(), ctx.publish);
  if (truthy(ctx.query.get('size'))) await addSizes(ctx.cluster, listed);
  sendJson(ctx.res, 200, listed);
}

