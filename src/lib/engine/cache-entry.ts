/**
 * What the manager keeps of a container: the engine's list entry (relayed by `docker ps`) and the
 * part of its inspect that the API, the scheduler and the rescheduler read. A dockerd 26 inspect of
 * a compose container is 6-7 KB of JSON (health probe log, paths, every HostConfig default); kept
 * whole it costs ~6 KB of heap per container, the projection below ~0.8 KB.
 *
 * An inspect alone is enough to learn a container: its list entry is derived from it as dockerd
 * derives it (daemon/container/view.go), so a create, an event or a re-read costs one engine call
 * and no container list.
 */
import { globalIdOf } from '../scheduler/global';
import { RESCHEDULE_POLICIES_LABEL } from '../scheduler/request';
import type { ContainerInspect, ContainerState, ContainerSummary, EndpointSettings, HostConfig, PortSummary } from './docker-types';
import type { CachedContainer } from './engine';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// Values that many containers share (an engine's network IDs, a compose project's labels, image
// IDs, mount drivers) are kept once: JSON.parse makes a new string for each occurrence.
const pool = new Map<string, string>();
const POOL_MAX = 200_000;

function intern<T>(v: T): T {
  // The empty string is one already; long ones are rarely shared.
  if (typeof v !== 'string' || v.length < 2 || v.length > 256) return v;
  const hit = pool.get(v);
  if (hit !== undefined) return hit as T;
  if (pool.size >= POOL_MAX) pool.clear();
  pool.set(v, v);
  return v;
}

/** Interns the shared values of a list entry in place (it is the cache's own copy). */
export function internSummary(s: ContainerSummary): ContainerSummary {
  s.Image = intern(s.Image);
  s.ImageID = intern(s.ImageID);
  s.State = intern(s.State);
  if (isObject(s.Labels)) for (const k in s.Labels) s.Labels[k] = intern(s.Labels[k]!);
  if (isObject(s.HostConfig)) s.HostConfig.NetworkMode = intern(s.HostConfig.NetworkMode);
  const nets = s.NetworkSettings?.Networks;
  if (isObject(nets)) {
    for (const ep of Object.values(nets)) {
      if (!isObject(ep)) continue;
      ep.NetworkID = intern(ep.NetworkID);
      ep.Gateway = intern(ep.Gateway);
    }
  }
  for (const m of s.Mounts ?? []) {
    if (!isObject(m)) continue;
    const mount = m as Record<string, unknown>;
    for (const k of ['Type', 'Name', 'Source', 'Destination', 'Driver', 'Mode', 'Propagation']) if (typeof mount[k] === 'string') mount[k] = intern(mount[k]);
  }
  return s;
}

/** dockerd's Command column: the path, then the arguments, quoted when they hold a space. */
function command(path: unknown, args: unknown): string {
  const p = typeof path === 'string' ? path : '';
  if (!Array.isArray(args) || !args.length) return p;
  return `${p} ${args.map((a) => (String(a).includes(' ') ? `'${String(a)}'` : String(a))).join(' ')}`;
}

/** The list's Ports: one entry per host binding, or one without a public port when none. */
function ports(map: unknown): PortSummary[] {
  const out: PortSummary[] = [];
  if (!isObject(map)) return out;
  for (const [key, bindings] of Object.entries(map)) {
    const [port = '', proto = 'tcp'] = key.split('/');
    const privatePort = Number(port);
    if (!Array.isArray(bindings) || !bindings.length) {
      out.push({ PrivatePort: privatePort, Type: proto });
      continue;
    }
    for (const b of bindings) {
      const hostPort = Number(isObject(b) ? b.HostPort : NaN);
      out.push({ IP: isObject(b) && typeof b.HostIp === 'string' ? b.HostIp : '', PrivatePort: privatePort, PublicPort: Number.isFinite(hostPort) ? hostPort : 0, Type: proto });
    }
  }
  return out;
}

/** The list's copy of an endpoint: the addresses, without aliases, links, driver options or DNS names. */
function listEndpoint(ep: EndpointSettings): EndpointSettings {
  const out: EndpointSettings = { ...ep };
  if ('Links' in out) out.Links = null;
  if ('Aliases' in out) out.Aliases = null;
  if ('DriverOpts' in out) out.DriverOpts = null;
  if ('DNSNames' in out) out.DNSNames = null;
  return out;
}

/**
 * The list entry of an inspected container. `previous` (the cached entry) gives what the inspect
 * cannot: link aliases (`/other/alias`, other containers' links to this one), the list's rendering
 * of the image when the image is unchanged, and the last Status text (`docker ps` recomputes it).
 */
export function summaryFromInspect(i: ContainerInspect, previous?: ContainerSummary): ContainerSummary {
  const id = String(i.Id ?? '');
  const aliases = (previous?.Names ?? []).filter((n) => n.lastIndexOf('/') > 0);
  const cfg = isObject(i.Config) ? i.Config : {};
  const imageId = typeof i.Image === 'string' ? i.Image : '';
  const created = typeof i.Created === 'string' ? Date.parse(i.Created) : NaN;
  const networks: Record<string, EndpointSettings> = {};
  const nets = i.NetworkSettings?.Networks;
  if (isObject(nets)) for (const [name, ep] of Object.entries(nets)) if (isObject(ep)) networks[name] = listEndpoint(ep);
  const mode = i.HostConfig?.NetworkMode;
  return {
    Id: id,
    Names: [typeof i.Name === 'string' ? i.Name : `/${id.slice(0, 12)}`, ...aliases],
    Image: previous && previous.ImageID === imageId && typeof previous.Image === 'string' ? previous.Image : typeof cfg.Image === 'string' && cfg.Image ? cfg.Image : imageId,
    ImageID: imageId,
    Command: command(i.Path, i.Args),
    Created: Number.isFinite(created) ? Math.floor(created / 1000) : (previous?.Created ?? 0),
    Ports: ports(i.NetworkSettings?.Ports),
    Labels: isObject(cfg.Labels) ? (cfg.Labels as Record<string, string>) : {},
    State: i.State?.Status ?? previous?.State ?? '',
    Status: previous?.Status ?? '',
    HostConfig: { NetworkMode: typeof mode === 'string' ? mode : 'default' },
    NetworkSettings: { Networks: networks },
    Mounts: Array.isArray(i.Mounts) ? i.Mounts : [],
  };
}

function compactState(s: ContainerState | undefined): ContainerState | undefined {
  if (!isObject(s)) return undefined;
  const out: ContainerState = {
    Status: intern(s.Status),
    Running: s.Running,
    Paused: s.Paused,
    Restarting: s.Restarting,
    ExitCode: s.ExitCode,
    StartedAt: s.StartedAt,
    FinishedAt: s.FinishedAt,
  };
  // The probe log (five results with their output) is inspect's; ps and the filters need the status.
  if (isObject(s.Health)) out.Health = { Status: s.Health.Status };
  return out;
}

function compactHostConfig(hc: HostConfig | undefined): HostConfig | undefined {
  if (!isObject(hc)) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of ['CpuShares', 'NanoCpus', 'Memory', 'NetworkMode', 'PortBindings', 'PublishAllPorts', 'RestartPolicy', 'AutoRemove']) if (hc[k] !== undefined) out[k] = hc[k];
  return out as HostConfig;
}

function sameLabels(a: Record<string, string>, b: unknown): boolean {
  if (!isObject(b)) return false;
  let n = 0;
  for (const k in b) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  return n === Object.keys(a).length;
}

/** Whether the container may be made again from its cached inspect: rescheduled, or a global container's copy. */
function recreatable(labels: unknown): boolean {
  if (!isObject(labels)) return false;
  return typeof labels[RESCHEDULE_POLICIES_LABEL] === 'string' || globalIdOf(labels as Record<string, string>) !== '';
}

/**
 * What is kept of an inspect: identity, state (without the probe log), the resources and ports the
 * scheduler reserves, exposed ports, exec IDs. A container with a reschedule policy, and a global
 * container's copy, keep their whole Config, HostConfig and endpoints: they are what makes it again
 * on another node (once its node is gone and can no longer be asked; a node that joins).
 */
export function compactInspect(i: ContainerInspect, labels: Record<string, string> | null | undefined): ContainerInspect {
  const cfg = isObject(i.Config) ? i.Config : undefined;
  const full = recreatable(cfg?.Labels);
  const out: ContainerInspect = { Id: i.Id, Name: i.Name, Created: i.Created, Image: intern(i.Image), State: compactState(i.State) };
  if (cfg) {
    // The labels object is the list entry's (the same labels): kept once.
    const shared = labels && sameLabels(labels, cfg.Labels ?? {}) ? labels : cfg.Labels;
    out.Config = full ? { ...cfg, Labels: shared } : { Image: intern(cfg.Image), Hostname: cfg.Hostname, Labels: shared, ExposedPorts: cfg.ExposedPorts, Healthcheck: cfg.Healthcheck };
  }
  out.HostConfig = full ? i.HostConfig : compactHostConfig(i.HostConfig);
  if (isObject(i.NetworkSettings)) out.NetworkSettings = full ? { Ports: i.NetworkSettings.Ports, Networks: i.NetworkSettings.Networks } : { Ports: i.NetworkSettings.Ports };
  if (Array.isArray(i.ExecIDs) && i.ExecIDs.length) out.ExecIDs = i.ExecIDs;
  return out;
}

/** A cache entry from an inspect (and the list entry, when the engine's own list gave one). */
export function cacheEntry(inspect: ContainerInspect, summary?: ContainerSummary, previous?: CachedContainer): CachedContainer {
  const s = internSummary(summary ?? summaryFromInspect(inspect, previous?.summary));
  return { id: s.Id, summary: s, inspect: compactInspect(inspect, s.Labels) };
}

// ---- changes an event describes in full: applied without asking the engine ------------------------

/** Whether the engine decides something at start that only it can tell (published ports' bindings). */
export function startNeedsEngine(c: CachedContainer): boolean {
  const hc = c.inspect?.HostConfig;
  if (!hc) return true;
  if (hc.PublishAllPorts === true) return true;
  return Object.values(hc.PortBindings ?? {}).some((list) => Array.isArray(list) && list.length > 0);
}

function withState(c: CachedContainer, state: ContainerState, summary: Partial<ContainerSummary> = {}): CachedContainer {
  const inspect: ContainerInspect = { ...c.inspect, State: state };
  return { id: c.id, summary: { ...c.summary, State: state.Status, ...summary }, inspect };
}

/**
 * The entry of a container that started at `startedAt` (RFC 3339): running, health starting when
 * it has a healthcheck, its exposed ports listed (nothing is published: see startNeedsEngine), and
 * its endpoints' network IDs, which a created container's list entry leaves empty, from the
 * engine's networks (`networkId`). Addresses are filled by the next refresh.
 */
export function startedEntry(c: CachedContainer, startedAt: string, networkId: (name: string) => string | undefined): CachedContainer {
  const prev = c.inspect?.State ?? {};
  const test = c.inspect?.Config?.Healthcheck;
  const healthcheck = isObject(test) && Array.isArray(test.Test) && test.Test.length > 0 && test.Test[0] !== 'NONE';
  const state: ContainerState = { ...prev, Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, ExitCode: 0, Error: '', StartedAt: startedAt };
  if (healthcheck) state.Health = { Status: 'starting' };
  else delete state.Health;
  const exposed = Object.keys(c.inspect?.Config?.ExposedPorts ?? {});
  const portMap: Record<string, null> = {};
  for (const k of exposed) portMap[k] = null;
  const networks: Record<string, EndpointSettings> = {};
  for (const [name, ep] of Object.entries(c.summary.NetworkSettings?.Networks ?? {})) networks[name] = { ...ep, NetworkID: ep.NetworkID || networkId(name) || '' };
  const next = withState(c, state, { Status: 'Up Less than a second', Ports: ports(portMap), NetworkSettings: { ...c.summary.NetworkSettings, Networks: networks } });
  next.inspect = { ...next.inspect, NetworkSettings: { ...c.inspect?.NetworkSettings, Ports: portMap } };
  return next;
}

/** Paused or unpaused (the `pause` / `unpause` events). */
export function pausedEntry(c: CachedContainer, paused: boolean): CachedContainer {
  const prev = c.inspect?.State ?? {};
  return withState(c, { ...prev, Status: paused ? 'paused' : 'running', Paused: paused });
}

/** Renamed to `name` (the `rename` event's `name` attribute); link aliases are kept. */
export function renamedEntry(c: CachedContainer, name: string): CachedContainer {
  const full = name.startsWith('/') ? name : `/${name}`;
  const aliases = (c.summary.Names ?? []).filter((n) => n.lastIndexOf('/') > 0);
  return { id: c.id, summary: { ...c.summary, Names: [full, ...aliases] }, inspect: { ...c.inspect, Name: full } };
}

/** A health status change (`health_status: healthy`). */
export function healthEntry(c: CachedContainer, status: string): CachedContainer {
  const prev = c.inspect?.State ?? {};
  return withState(c, { ...prev, Health: { Status: status } });
}
