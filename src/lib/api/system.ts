/** Local routes (`/_ping`, `/version`), the aggregated `/info`, and the cluster `/events` stream. */
import os from 'node:os';
import type { HostConfig } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { MIN_API_VERSION } from '../engine/version';
import { eventNano } from '../engine/event-cursor';
import { MAX_TIMER_MS, parseDuration } from '../duration';
import type { ClusterEvent } from '../manager/cluster';
import { containerCpus } from '../scheduler/index';
import { infoParts, nodeLines, nodeOrder, type NodeView } from './info';
import { ApiError } from '../errors';
import { baseHeaders, labelMatches, parseFilters, sendJson } from './respond';
import type { RequestCtx } from './router';

interface ContainerTally {
  running: number;
  paused: number;
  stopped: number;
  cpus: number;
  memory: number;
}

// Recomputed only when the engine's container cache changed: `docker info` on a 1,000-engine
// cluster then does not walk 30,000 inspect objects per request.
const tallies = new WeakMap<Engine, { version: number; rawCpus: number; tally: ContainerTally }>();

function containerTally(e: Engine): ContainerTally {
  const hit = tallies.get(e);
  if (hit && hit.version === e.containersVersion && hit.rawCpus === e.rawCpus) return hit.tally;
  const tally: ContainerTally = { running: 0, paused: 0, stopped: 0, cpus: 0, memory: 0 };
  for (const c of e.containers.values()) {
    const st = c.inspect?.State?.Status ?? c.summary?.State;
    if (st === 'paused') tally.paused++;
    else if (st === 'running' || st === 'restarting') tally.running++;
    else tally.stopped++;
    const hc: HostConfig = c.inspect?.HostConfig ?? {};
    tally.cpus += containerCpus(hc, e.rawCpus);
    tally.memory += hc.Memory ?? 0;
  }
  tallies.set(e, { version: e.containersVersion, rawCpus: e.rawCpus, tally });
  return tally;
}

export function nodeView(e: Engine, pendingReservations: { cpus: number; memory: number }[] = []): NodeView {
  const { running, paused, stopped, cpus: reservedCpus, memory: reservedMemory } = containerTally(e);
  let cpus = reservedCpus;
  let memory = reservedMemory;
  for (const p of pendingReservations) {
    cpus += p.cpus;
    memory += p.memory;
  }
  return {
    name: e.name,
    addr: e.addr,
    id: e.id,
    status: e.stateLabel,
    healthy: e.isHealthy(),
    containers: { total: e.containers.size, running, paused, stopped },
    images: e.images.length,
    reservedCpus: cpus,
    totalCpus: e.cpus,
    reservedMemory: memory,
    totalMemory: e.memory,
    labels: e.labels,
    error: e.health.lastError,
    updatedAt: e.updatedAt,
    serverVersion: e.version?.Version ?? '',
    registered: e.state === 'healthy' || e.state === 'unhealthy',
  };
}

/** Everything a node's lines are made of (nodeView's inputs), compared one by one. */
type RenderingKey = [string, string, string, string, number, number, number, number, number, number, number, Record<string, string>, string, number, string, boolean, number];

function pendingSums(pending: readonly { cpus: number; memory: number }[]): [number, number] {
  let cpus = 0;
  let memory = 0;
  for (const p of pending) {
    cpus += p.cpus;
    memory += p.memory;
  }
  return [cpus, memory];
}

function renderingKey(e: Engine, pending: readonly { cpus: number; memory: number }[], drained: boolean): RenderingKey {
  const [cpus, memory] = pendingSums(pending);
  return [e.name, e.addr, e.id, e.state, e.containersVersion, e.rawCpus, e.rawMemory, e.opts.overcommit, e.images.length, cpus, memory, e.labels, e.health.lastError, e.updatedAt.getTime(), e.version?.Version ?? '', drained, pending.length];
}

/** Whether `k` still describes the engine (checked field by field, nothing allocated: asked per node and request). */
function keyHolds(k: RenderingKey, e: Engine, pending: readonly { cpus: number; memory: number }[], drained: boolean): boolean {
  if (k[0] !== e.name || k[1] !== e.addr || k[2] !== e.id || k[3] !== e.state || k[4] !== e.containersVersion || k[5] !== e.rawCpus || k[6] !== e.rawMemory) return false;
  if (k[7] !== e.opts.overcommit || k[8] !== e.images.length || k[11] !== e.labels || k[12] !== e.health.lastError || k[13] !== e.updatedAt.getTime()) return false;
  if (k[14] !== (e.version?.Version ?? '') || k[15] !== drained || k[16] !== pending.length) return false;
  if (!pending.length) return k[9] === 0 && k[10] === 0;
  const [cpus, memory] = pendingSums(pending);
  return k[9] === cpus && k[10] === memory;
}

/** One node of `docker info`: its view and its lines as JSON, kept while its key is unchanged. */
interface NodeRendering {
  key: RenderingKey;
  view: NodeView;
  json: string;
}

const renderings = new WeakMap<Engine, NodeRendering>();

function nodeRendering(e: Engine, pending: readonly { cpus: number; memory: number }[], drained: boolean): NodeRendering {
  const hit = renderings.get(e);
  if (hit && keyHolds(hit.key, e, pending, drained)) return hit;
  const key = renderingKey(e, pending, drained);
  const view = nodeView(e, [...pending]);
  if (drained) view.drained = true;
  const r = { key, view, json: JSON.stringify(nodeLines(view)).slice(1, -1) };
  renderings.set(e, r);
  return r;
}

/** The engines in display order, sorted again only when a name, an address or the set changed. */
let order: { engines: Engine[]; names: string[]; sorted: Engine[] } | undefined;
function displayOrder(engines: Engine[]): Engine[] {
  const o = order;
  // An engine's address never changes; its name is set when it is validated.
  if (o && o.engines.length === engines.length && o.engines.every((e, i) => e === engines[i] && o.names[i] === e.name)) return o.sorted;
  const sorted = [...engines].sort((a, b) => nodeOrder(a, b));
  order = { engines, names: engines.map((e) => e.name), sorted };
  return sorted;
}

/** SystemStatus as sent (UTF-8), kept while the cluster's lines and every node's rendering are the same. */
let status: { head: string; nodes: NodeRendering[]; bytes: Buffer } | undefined;
function statusBytes(head: string, nodes: NodeRendering[]): Buffer {
  if (status && status.head === head && status.nodes.length === nodes.length && status.nodes.every((r, i) => r === nodes[i])) return status.bytes;
  const bytes = Buffer.from(`[${head}${nodes.map((r) => `,${r.json}`).join('')}]`);
  status = { head, nodes, bytes };
  return bytes;
}

let listeners = 0;

/**
 * `docker events --filter` (beyond v1, which ignored filters): values of one key are ORed, keys ANDed,
 * as the engine does; `node` matches the node name or ID.
 */
export function eventMatches(filters: Map<string, string[]>, ev: ClusterEvent): boolean {
  const attrs = ev.Actor?.Attributes ?? {};
  const type = ev.Type ?? 'container';
  const id = ev.Actor?.ID ?? ev.id ?? '';
  for (const [key, values] of filters) {
    if (!values.length) continue;
    const any = (pred: (v: string) => boolean) => values.some(pred);
    let ok: boolean;
    switch (key) {
      case 'type':
        ok = any((v) => v === type);
        break;
      case 'event':
        ok = any((v) => v === (ev.Action ?? ev.status) || (ev.Action ?? '').startsWith(v + ':'));
        break;
      case 'container':
        ok = type === 'container' && any((v) => id.startsWith(v) || attrs.name === v);
        break;
      case 'image':
        ok = any((v) => attrs.image === v || (type === 'image' && (id === v || attrs.name === v)));
        break;
      case 'network':
      case 'volume':
        ok = type === key && any((v) => id.startsWith(v) || attrs.name === v);
        break;
      case 'label':
        ok = any((v) => labelMatches(attrs, v));
        break;
      case 'node':
        ok = any((v) => v === ev.node?.Name || v === ev.node?.Id);
        break;
      case 'scope':
        ok = any((v) => v === (ev.scope ?? 'local'));
        break;
      default:
        ok = true;
    }
    if (!ok) return false;
  }
  return true;
}

/** Clients following `docker events` now (NEventsListener of /info, swarm_event_listeners). */
export function eventListenerCount(): number {
  return listeners;
}

/** A Go duration (`10m`, `1h30m`), or undefined for anything else. */
function relativeMs(text: string, name: string): number | undefined {
  if (!/^[\d.]+[a-zµ]/.test(text)) return undefined;
  try {
    return parseDuration(text, name, Number.MAX_SAFE_INTEGER);
  } catch {
    return undefined;
  }
}

/**
 * `since`/`until` of /events, in nanoseconds: `<seconds>[.<fraction>]` as the docker CLI sends them
 * (it turns `10m` and dates into that itself), or, for other clients, a Go duration before now
 * (`10m`) or an RFC 3339 time.
 */
export function parseEventTime(name: string, raw: string, nowMs = Date.now()): number {
  const text = raw.trim();
  const m = /^(\d+)(?:\.(\d{1,9})\d*)?$/.exec(text);
  if (m) return Number(m[1]) * 1e9 + (m[2] ? Number(m[2].padEnd(9, '0')) : 0);
  const ago = relativeMs(text, name);
  if (ago !== undefined) return (nowMs - ago) * 1e6;
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new ApiError(400, `invalid value for ${name}: ${raw}`);
  // Date.parse keeps milliseconds: the rest of an RFC 3339 fraction is read here.
  const frac = /\.(\d{4,9})\d*(?:Z|[+-]\d\d:?\d\d)$/i.exec(text)?.[1];
  return t * 1e6 + (frac ? Number(frac.padEnd(9, '0').slice(3)) : 0);
}

/**
 * `docker events`: with `since`, the events held in the manager's history from then on (every
 * engine's and its own, in time order; see manager/event-log.ts), then, unless `until` has passed,
 * the live stream until `until` (or for ever). Filters apply to both. Beyond v1, which had no history.
 */
export async function events(ctx: RequestCtx): Promise<void> {
  const sinceRaw = ctx.query.get('since');
  const untilRaw = ctx.query.get('until');
  const now = Date.now();
  const since = sinceRaw ? parseEventTime('since', sinceRaw, now) : undefined;
  const until = untilRaw ? parseEventTime('until', untilRaw, now) : undefined;
  if (since !== undefined && until !== undefined && until < since) {
    throw new ApiError(400, `\`since\` time (${sinceRaw}) cannot be after \`until\` time (${untilRaw})`);
  }
  const filters = parseFilters(ctx.query.get('filters'));
  const res = ctx.res;
  res.writeHead(200, { ...baseHeaders(), 'Content-Type': 'application/json' });
  res.flushHeaders?.();
  // The history and the live stream meet without a gap or an overlap: the replay is written and the
  // listener attached in the same turn of the event loop, and events are published synchronously.
  if (since !== undefined) {
    for (const ev of ctx.cluster.events.select(since, until)) if (eventMatches(filters, ev)) res.write(JSON.stringify(ev) + '\n');
  }
  if (until !== undefined && until <= now * 1e6) {
    res.end();
    return;
  }
  listeners++;
  await new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onEvent = (ev: ClusterEvent) => {
      const nano = eventNano(ev);
      // Caught up late from a reconnected engine, but outside the window asked for.
      if ((since !== undefined && nano < since) || (until !== undefined && nano > until)) return;
      if (!eventMatches(filters, ev)) return;
      res.write(JSON.stringify(ev) + '\n');
    };
    const done = () => {
      ctx.cluster.bus.off('event', onEvent);
      if (timer) clearTimeout(timer);
      listeners--;
      res.end();
      resolve();
    };
    // A timer waits at most MAX_TIMER_MS: a later `until` is waited for in steps.
    const arm = () => {
      const left = (until ?? 0) / 1e6 - Date.now();
      if (left <= 0) return done();
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
    };
    ctx.cluster.bus.on('event', onEvent);
    if (until !== undefined) arm();
    res.on('close', () => {
      if (!res.writableEnded) done();
    });
  });
}

// The headers dockerd's /_ping carries: clients read the API version, OS, builder (2 = BuildKit,
// which buildx then uses through /grpc and /session) and swarm-mode state from them.
export function ping(ctx: RequestCtx): void {
  ctx.res.writeHead(200, {
    ...baseHeaders(),
    'Content-Type': 'text/plain; charset=utf-8',
    'Cache-Control': 'no-cache, no-store, must-revalidate',
    Pragma: 'no-cache',
    'Builder-Version': '2',
    Swarm: 'inactive',
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
}

export function version(ctx: RequestCtx): void {
  sendJson(ctx.res, 200, {
    Platform: { Name: 'Docker Swarm (classic)' },
    Version: ctx.serverVersion,
    ApiVersion: ctx.cluster.apiVersion(),
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: typeof SWARM_GIT_COMMIT === 'string' ? SWARM_GIT_COMMIT : 'dev',
    GoVersion: `bun ${process.versions.bun ?? process.version}`,
    Os: 'linux',
    Arch: os.arch() === 'x64' ? 'amd64' : os.arch(),
    KernelVersion: os.release(),
    Experimental: ctx.experimental === true,
    BuildTime: '',
  });
}

// Each node's lines are rendered when the node changes (nodeRendering), not on every request.
export function info(ctx: RequestCtx): void {
  const drain = ctx.cluster.opts.drain;
  const sorted = displayOrder(ctx.cluster.all());
  const nodes: NodeView[] = [];
  const rendered: NodeRendering[] = [];
  for (const e of sorted) {
    const r = nodeRendering(e, ctx.placer.reserved(e.addr), drain?.isDrained(e.name, e.labels) ?? false);
    nodes.push(r.view);
    rendered.push(r);
  }
  const { before, head, after } = infoParts({ nodes, strategy: ctx.strategy, filters: ctx.filters, serverVersion: ctx.serverVersion, eventsListeners: listeners, role: ctx.replica?.roleInfo(), experimental: ctx.experimental });
  const middle = statusBytes(head, rendered);
  if (ctx.res.headersSent) return void ctx.res.end();
  ctx.res.writeHead(200, { ...baseHeaders(), 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(before) + middle.length + Buffer.byteLength(after) });
  ctx.res.write(before);
  ctx.res.write(middle);
  ctx.res.end(after);
}

declare const SWARM_GIT_COMMIT: string | undefined;
