/** Local routes (`/_ping`, `/version`), the aggregated `/info`, and the cluster `/events` stream. */
import os from 'node:os';
import type { HostConfig } from '../engine/docker-types';
import type { Engine } from '../engine/engine';
import { MIN_API_VERSION } from '../engine/version';
import type { ClusterEvent } from '../manager/cluster';
import { containerCpus } from '../scheduler/index';
import { buildInfo, type NodeView } from './info';
import { baseHeaders, HttpError, labelMatches, parseFilters, sendJson } from './respond';
import type { RequestCtx, Router } from './router';

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

async function events(ctx: RequestCtx): Promise<void> {
  const untilRaw = ctx.query.get('until');
  let until: number | undefined;
  if (untilRaw) {
    until = Number(untilRaw);
    if (!Number.isFinite(until)) {
      const t = Date.parse(untilRaw);
      if (!Number.isFinite(t)) throw new HttpError(400, `invalid value for until: ${untilRaw}`);
      until = t / 1000;
    }
  }
  const filters = parseFilters(ctx.query.get('filters'));
  const res = ctx.res;
  res.writeHead(200, { ...baseHeaders(), 'Content-Type': 'application/json' });
  res.flushHeaders?.();
  listeners++;
  await new Promise<void>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onEvent = (ev: ClusterEvent) => {
      if (until !== undefined && (ev.time ?? 0) > until) return done();
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
    if (until !== undefined) timer = setTimeout(done, Math.max(0, until * 1000 - Date.now()));
    ctx.cluster.bus.on('event', onEvent);
    res.on('close', () => {
      if (!res.writableEnded) done();
    });
  });
}

export function systemRoutes(router: Router): void {
  // The headers dockerd's /_ping carries: clients read the API version, OS, builder (2 = BuildKit,
  // which buildx then uses through /grpc and /session) and swarm-mode state from them.
  const ping = (ctx: RequestCtx) => {
    ctx.res.writeHead(200, {
      ...baseHeaders(),
      'Content-Type': 'text/plain; charset=utf-8',
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
      'Builder-Version': '2',
      Swarm: 'inactive',
    });
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : 'OK');
  };
  // HEAD /_ping is what docker CLI v28 tries first; v1 had no route for it (the CLI then fell back to GET).
  router.add('GET|HEAD', '/_ping', ping);
  router.add('GET', '/version', (ctx) =>
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
    }),
  );
  router.add('GET', '/info', (ctx) => {
    const drain = ctx.cluster.opts.drain;
    const nodes = ctx.cluster.all().map((e) => {
      const view = nodeView(e, ctx.cluster.pending.get(e.addr) ?? []);
      if (drain?.isDrained(e.name, e.labels)) view.drained = true;
      return view;
    });
    sendJson(ctx.res, 200, buildInfo({ nodes, strategy: ctx.strategy, filters: ctx.filters, serverVersion: ctx.serverVersion, eventsListeners: listeners, role: ctx.replica?.roleInfo(), experimental: ctx.experimental }));
  });
  router.add('GET', '/events', events);
}

declare const SWARM_GIT_COMMIT: string | undefined;
