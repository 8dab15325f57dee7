/**
 * A container as the engine shows it: its inspect in the profile's key order and zero values, its
 * list entry (derived from the inspect as dockerd derives it, by the manager's own rule), and top.
 */
import { containerStatus } from '../../src/lib/api/format';
import { ApiError } from '../../src/lib/errors';
import { parseFilters, truthy } from '../../src/lib/api/respond';
import { summaryFromInspect } from '../../src/lib/engine/cache-entry';
import type { ContainerSummary, EndpointSettings } from '../../src/lib/engine/docker-types';
import { containerFilter } from './filters';
import { asObject, type Json, type JsonObject } from './json';
import { isRunning, type Container, type Endpoint } from './model';
import { isoTime, sha256, ZERO_TIME } from './random';
import type { EngineState } from './state';

/**
 * One network endpoint in dockerd's key order (the profile's): the list carries the addresses
 * only, the inspect the aliases and DNS names as well. NetworkID is set once the container was
 * first started, as dockerd does.
 */
function endpointJson(s: EngineState, c: Container, ep: Endpoint): JsonObject {
  const n = s.networks.lookup(ep.network);
  const running = ep.ip !== '';
  const prefix = n?.name === 'bridge' || (n && n.subnet) ? 16 : 0;
  const values: JsonObject = {
    IPAMConfig: null,
    Links: null,
    Aliases: ep.aliases,
    MacAddress: ep.mac,
    NetworkID: c.startedMs ? (n?.id ?? '') : '',
    EndpointID: ep.endpointId,
    Gateway: running ? (n?.gateway ?? '') : '',
    IPAddress: ep.ip,
    IPPrefixLen: running ? prefix : 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DriverOpts: null,
    DNSNames: !running || !n || n.builtin ? null : [c.name, ...(ep.aliases ?? []).filter((a) => a !== c.name), c.id.slice(0, 12)],
  };
  const out: JsonObject = {};
  const zero = s.p.endpointZero;
  for (const k of Object.keys(zero)) out[k] = values[k] ?? zero[k] ?? null;
  return out;
}

function networksJson(s: EngineState, c: Container): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  for (const ep of c.endpoints) out[ep.network] = endpointJson(s, c, ep);
  return out;
}

/** Probes a running container with a healthcheck has made (dockerd keeps the last five). */
function probeCount(s: EngineState, c: Container, now: number, interval: number): number {
  if (!(c.status === 'running' || c.status === 'paused') || !c.startedMs) return 0;
  return Math.min(s.p.healthLog.length || 5, Math.floor((now - c.startedMs) / interval));
}

function probeInterval(c: Container): number {
  return Number(asObject(c.config.Healthcheck)?.Interval ?? 30e9) / 1e6 || 30_000;
}

function healthStatus(c: Container, probes: number): string {
  return !(c.status === 'running' || c.status === 'paused') ? 'unhealthy' : probes ? 'healthy' : 'starting';
}

/** The probe results of a healthy container: the last five, one per interval. */
function healthJson(s: EngineState, c: Container, now: number): JsonObject {
  const interval = probeInterval(c);
  const probes = probeCount(s, c, now, interval);
  const log: Json[] = [];
  for (let k = probes; k >= 1; k--) {
    const start = now - k * interval;
    const tpl = s.p.healthLog[(probes - k) % Math.max(1, s.p.healthLog.length)] ?? {};
    log.push({ ...tpl, Start: isoTime(start), End: isoTime(start + 62), ExitCode: 0, Output: '' });
  }
  return { Status: healthStatus(c, probes), FailingStreak: 0, Log: log };
}

/** GET /containers/json's entry: what summaryFromInspect reads of the inspect, the Status text, the sizes. */
export function listEntry(s: EngineState, c: Container, size: boolean, now: number): ContainerSummary {
  const networks: Record<string, EndpointSettings> = networksJson(s, c);
  const state = {
    Status: c.status,
    ExitCode: c.exitCode,
    StartedAt: c.startedMs ? isoTime(c.startedMs) : ZERO_TIME,
    FinishedAt: c.finishedMs ? isoTime(c.finishedMs) : ZERO_TIME,
    Health: c.health && c.startedMs ? { Status: healthStatus(c, probeCount(s, c, now, probeInterval(c))) } : undefined,
  };
  const summary = summaryFromInspect({
    Id: c.id,
    Name: `/${c.name}`,
    Created: isoTime(c.createdMs),
    Path: c.path,
    Args: c.args,
    State: state,
    Image: c.imageId,
    HostConfig: { NetworkMode: typeof c.hostConfig.NetworkMode === 'string' ? c.hostConfig.NetworkMode : 'default' },
    Mounts: c.mounts,
    Config: { Image: c.image, Labels: c.labels },
    NetworkSettings: { Ports: c.ports, Networks: networks },
  });
  summary.Status = containerStatus(state, '', now);
  if (!size) return summary;
  const { Id, Names, Image, ImageID, Command, Created, Ports, ...rest } = summary;
  return { Id, Names, Image, ImageID, Command, Created, Ports, SizeRw: c.sizeRw, SizeRootFs: c.sizeRootFs + c.sizeRw, ...rest };
}

/** GET /containers/{id}/json. */
export function inspectJson(s: EngineState, c: Container, size: boolean): JsonObject {
  const running = isRunning(c);
  const now = Date.now();
  const p = s.p;
  const hostsDir = `/var/lib/docker/containers/${c.id}`;
  const state: JsonObject = {
    ...p.stateZero,
    Status: c.status,
    Running: running,
    Paused: c.status === 'paused',
    Restarting: c.status === 'restarting',
    OOMKilled: false,
    Dead: c.status === 'dead',
    Pid: c.pid,
    ExitCode: c.exitCode,
    Error: '',
    StartedAt: c.startedMs ? isoTime(c.startedMs) : ZERO_TIME,
    FinishedAt: c.finishedMs ? isoTime(c.finishedMs) : ZERO_TIME,
  };
  if (c.health && c.startedMs) state.Health = healthJson(s, c, now);
  const primary = c.endpoints[0];
  const bridge = primary?.network === 'bridge' ? primary : undefined;
  const gateway = bridge?.ip ? (s.networks.lookup('bridge')?.gateway ?? '') : '';
  const networkSettings: JsonObject = {
    ...p.networkSettingsZero,
    SandboxID: c.sandboxId,
    SandboxKey: c.sandboxId ? `/var/run/docker/netns/${c.sandboxId.slice(0, 12)}` : '',
    Ports: c.ports ?? {},
    EndpointID: bridge?.endpointId ?? '',
    Gateway: gateway,
    IPAddress: bridge?.ip ?? '',
    IPPrefixLen: bridge?.ip ? 16 : 0,
    MacAddress: bridge?.mac ?? '',
    Networks: networksJson(s, c),
  };
  const values: JsonObject = {
    Id: c.id,
    Created: isoTime(c.createdMs),
    Path: c.path,
    Args: c.args,
    State: state,
    Image: c.imageId,
    ResolvConfPath: `${hostsDir}/resolv.conf`,
    HostnamePath: `${hostsDir}/hostname`,
    HostsPath: `${hostsDir}/hosts`,
    LogPath: `${hostsDir}/${c.id}-json.log`,
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: 'docker-default',
    ExecIDs: null,
    HostConfig: { ...p.hostConfigDefaults, ...c.hostConfig },
    GraphDriver: p.graphDriver(sha256(`layer:${c.id}`)),
    Mounts: c.mounts.map((m) => ({ ...m })),
    Config: { ...p.configDefaults, ...c.config },
    NetworkSettings: networkSettings,
  };
  const out: JsonObject = {};
  for (const k of p.inspectKeys) if (k in values) out[k] = values[k] as Json;
  if (size) {
    out.SizeRw = c.sizeRw;
    out.SizeRootFs = c.sizeRootFs + c.sizeRw;
  }
  return out;
}

/** GET /containers/{id}/top: the one simulated process. */
export function topJson(c: Container): JsonObject {
  if (!isRunning(c)) throw new ApiError(409, `Container ${c.id} is not running`);
  const started = new Date(c.startedMs);
  const stime = `${String(started.getUTCHours()).padStart(2, '0')}:${String(started.getUTCMinutes()).padStart(2, '0')}`;
  return {
    Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
    Processes: [['root', String(c.pid), String(c.pid - 20), '0', stime, '?', '00:00:00', [c.path, ...c.args].join(' ')]],
  };
}

/**
 * GET /containers/json: newest first; without `all` only running ones (a limit, before/since or a
 * status filter list stopped ones too). Unfiltered lists are kept until the next change, at most 1 s
 * (for the "Up 3 minutes" texts).
 */
export function listContainers(s: EngineState, q: URLSearchParams): string {
  const rawFilters = q.get('filters');
  const size = truthy(q.get('size'));
  const limit = Number.parseInt(q.get('limit') ?? '', 10) || -1;
  const now = Date.now();
  const cacheable = !rawFilters && limit <= 0 && !q.get('before') && !q.get('since');
  const key = `${truthy(q.get('all')) ? 1 : 0}${size ? 1 : 0}`;
  if (cacheable) {
    const hit = s.listCache.get(key);
    if (hit && hit.gen === s.gen && now - hit.at < 1000) return hit.body;
  }
  const f = parseFilters(rawFilters);
  const filter = containerFilter(f, s);
  const all = truthy(q.get('all')) || filter.all;
  const before = f.get('before')?.[0] ?? q.get('before');
  const since = f.get('since')?.[0] ?? q.get('since');
  const beforeC = before ? s.lookup(before) : undefined;
  const sinceC = since ? s.lookup(since) : undefined;
  const out: ContainerSummary[] = [];
  let seenBefore = beforeC === undefined;
  for (const c of [...s.containers.values()].reverse()) {
    if (!seenBefore) {
      if (c === beforeC) seenBefore = true;
      continue;
    }
    if (sinceC && c === sinceC) break;
    if (!isRunning(c) && !all && limit <= 0 && !beforeC && !sinceC) continue;
    if (!filter.test(c)) continue;
    out.push(listEntry(s, c, size, now));
    if (limit > 0 && out.length >= limit) break;
  }
  const body = `${JSON.stringify(out)}\n`;
  if (cacheable) s.listCache.set(key, { gen: s.gen, at: now, body });
  return body;
}
