/**
 * `GET /info` for the cluster (spec §3.3): cluster totals plus v1's SystemStatus block, which the
 * docker CLI prints under "Server:" as `Role`, `Strategy`, `Filters`, `Nodes` and one `└` line per
 * node fact. Pure: takes plain node views, returns the JSON body.
 */
import os from 'node:os';
import { bytesSize, naturalCompare } from './format';

export interface NodeView {
  name: string;
  addr: string;
  id: string;
  status: string;
  healthy: boolean;
  containers: { total: number; running: number; paused: number; stopped: number };
  images: number;
  reservedCpus: number;
  totalCpus: number;
  reservedMemory: number;
  totalMemory: number;
  labels: Record<string, string>;
  error: string;
  updatedAt: Date;
  serverVersion: string;
  /** Validated (Healthy/Unhealthy): counted in totals. */
  registered: boolean;
  /** Beyond v1: in maintenance (src/lib/manager/drain.ts), shown as `└ Availability: drain`. */
  drained?: boolean;
}

export interface InfoInput {
  nodes: NodeView[];
  strategy: string;
  filters: string[];
  serverVersion: string;
  eventsListeners: number;
  now?: Date;
  /** --replication: this manager's role and, on a replica, the primary's address (default primary). */
  role?: { role: string; primary?: string };
  /** Global --experimental. */
  experimental?: boolean;
}

function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function fmtCpus(n: number): string {
  return String(Number(n.toFixed(3)));
}

// Engines replace their labels object when labels change, so the rendered line is cached by identity.
const labelLines = new WeakMap<Record<string, string>, string>();

function labelLine(labels: Record<string, string>): string {
  let line = labelLines.get(labels);
  if (line === undefined) {
    line = Object.entries(labels)
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(', ');
    labelLines.set(labels, line);
  }
  return line;
}

/** The cluster's lines of SystemStatus, before the nodes'. */
function headLines(input: InfoInput): [string, string][] {
  return [
    ['Role', input.role?.role ?? 'primary'],
    ...(input.role?.primary ? [['Primary', input.role.primary] as [string, string]] : []),
    ['Strategy', input.strategy],
    ['Filters', input.filters.join(', ')],
    ['Nodes', String(input.nodes.length)],
  ];
}

/** The order nodes are shown in: by name (natural: node-2 before node-10), then address. */
export function nodeOrder(a: { name: string; addr: string }, b: { name: string; addr: string }): number {
  return naturalCompare(a.name || '(unknown)', b.name || '(unknown)') || naturalCompare(a.addr, b.addr);
}

/** One node's lines of SystemStatus (` node-1`, `  └ ID`, `  └ Status`...). */
export function nodeLines(n: NodeView): [string, string][] {
  const c = n.containers;
  const out: [string, string][] = [];
  out.push([' ' + (n.name || '(unknown)'), n.addr]);
  out.push(['  └ ID', n.id]);
  out.push(['  └ Status', n.status]);
  // Only for drained nodes, so v1's layout is unchanged otherwise; Status keeps v1's health values.
  if (n.drained) out.push(['  └ Availability', 'drain']);
  out.push(['  └ Containers', n.healthy ? `${c.total} (${c.running} Running, ${c.paused} Paused, ${c.stopped} Stopped)` : String(c.total)]);
  out.push(['  └ Reserved CPUs', `${fmtCpus(n.reservedCpus)} / ${n.totalCpus}`]);
  out.push(['  └ Reserved Memory', `${bytesSize(n.reservedMemory)} / ${bytesSize(n.totalMemory)}`]);
  out.push(['  └ Labels', labelLine(n.labels)]);
  if (n.error) out.push(['  └ Error', n.error]);
  out.push(['  └ UpdatedAt', rfc3339(n.updatedAt)]);
  out.push(['  └ ServerVersion', n.serverVersion]);
  return out;
}

export function systemStatus(input: InfoInput): [string, string][] {
  const out = headLines(input);
  for (const n of [...input.nodes].sort(nodeOrder)) out.push(...nodeLines(n));
  return out;
}

const STATUS_MARK = '\u0000SystemStatus\u0000';

/**
 * buildInfo as JSON text in three parts, for answers that keep the nodes' part rendered: the text
 * before SystemStatus's value, the cluster's own lines of it (JSON without brackets), and the text
 * after. SystemStatus is `[` + head + `,` + each node's nodeLines (JSON without brackets) + `]`.
 */
export function infoParts(input: InfoInput): { before: string; head: string; after: string } {
  const text = JSON.stringify({ ...buildInfo(input, false), SystemStatus: STATUS_MARK });
  const mark = JSON.stringify(STATUS_MARK);
  const at = text.indexOf(mark);
  return { before: text.slice(0, at), head: JSON.stringify(headLines(input)).slice(1, -1), after: text.slice(at + mark.length) };
}

export function buildInfo(input: InfoInput, withStatus = true): Record<string, unknown> {
  const reg = input.nodes.filter((n) => n.registered);
  const sum = (f: (n: NodeView) => number) => reg.reduce((a, n) => a + f(n), 0);
  return {
    ID: '',
    Containers: sum((n) => n.containers.total),
    ContainersRunning: sum((n) => n.containers.running),
    ContainersPaused: sum((n) => n.containers.paused),
    ContainersStopped: sum((n) => n.containers.stopped),
    Images: sum((n) => n.images),
    Driver: '',
    DriverStatus: null,
    SystemStatus: withStatus ? systemStatus(input) : null,
    Plugins: { Volume: null, Network: null, Authorization: null, Log: null },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    Debug: false,
    NFd: 0,
    OomKillDisable: true,
    NGoroutines: 0,
    SystemTime: (input.now ?? new Date()).toISOString(),
    LoggingDriver: '',
    CgroupDriver: '',
    NEventsListener: input.eventsListeners,
    KernelVersion: os.release(),
    OperatingSystem: os.type(),
    OSType: 'linux',
    Architecture: os.arch() === 'x64' ? 'x86_64' : os.arch(),
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: null,
    NCPU: sum((n) => n.totalCpus),
    MemTotal: sum((n) => n.totalMemory),
    GenericResources: null,
    DockerRootDir: '',
    HttpProxy: process.env.HTTP_PROXY ?? process.env.http_proxy ?? '',
    HttpsProxy: process.env.HTTPS_PROXY ?? process.env.https_proxy ?? '',
    NoProxy: process.env.NO_PROXY ?? process.env.no_proxy ?? '',
    Name: os.hostname(),
    Labels: [],
    ExperimentalBuild: input.experimental === true,
    ServerVersion: input.serverVersion,
    Runtimes: {},
    DefaultRuntime: '',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    SecurityOptions: [],
    Warnings: null,
  };
}
