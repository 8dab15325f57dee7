/**
 * Docker engine simulator: one process serves many simulated Docker engines, one loopback port each,
 * answering the Engine API (v1.41 as Docker 20.10 does, or v1.45 as Docker 26 with --engine 26) well
 * enough for a cluster manager and for the real docker CLI, with objects rendered from templates
 * captured on real engines (bench/payloads), and counting the calls it answers (/_sim/calls).
 *
 *   bun bench/engine-sim.ts --nodes 1000 --containers 30 [--base-port 20000] [--host 127.0.0.1] [--latency-ms 0]
 *                           [--engine 20.10|26] [--workload basic|compose]
 *
 * or, from the benchmark harness:
 *
 *   const sim = await startSimulator({ nodes: 100, containers: 30, basePort: 0 });
 *   sim.engines[0].addr; // "127.0.0.1:20000"
 *   await sim.close();
 *
 * Everything lives in memory; nothing is persisted and nothing is actually run. Containers change
 * state only through the API, except that a started container whose command is `sleep N`, `echo ...`,
 * `true`, `false`, `sh -c "exit N"` or a bare non-interactive shell exits on its own like the real
 * thing (switch off with autoExit: false / --no-auto-exit). `echo` is the only thing that prints:
 * its output goes to attached clients (`docker run` without -d) and to `docker logs`.
 *
 * Not simulated (404 page not found): exec, stats, cp/archive, export, commit, build, image
 * push/tag/history/search, prune of images/networks/volumes, system df, swarm-mode endpoints,
 * plugins, network connect/disconnect, container update/resize.
 */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { humanDuration } from '../src/lib/api/format';
import { loadProfile, type EngineKind, type EngineProfile } from './payloads/profile';

// ---------------------------------------------------------------------------------------------
// Public interface

export interface SimulatorOptions {
  /** Number of engines (default 10). */
  nodes?: number;
  /** Containers pre-populated on each engine (default 30). */
  containers?: number;
  /** First port; engine i listens on basePort + i. 0 = an ephemeral port per engine (default 0). */
  basePort?: number;
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Delay before each API call is answered, ms (default 0). */
  latencyMs?: number;
  /** Uniform +/- jitter around latencyMs (default latencyMs / 10). */
  jitterMs?: number;
  /** Extra engine labels ("key=value"), on every engine. */
  labels?: string[];
  /** Per-engine labels; replaces the default sim.index/zone/storage labels. */
  labelsFor?: (index: number) => string[];
  /** CPUs reported by /info (default 4). */
  ncpu?: number;
  /** Memory reported by /info, bytes (default 8 GiB less kernel reserve). */
  memTotal?: number;
  /** PRNG seed for IDs, names and the pre-populated mix (default random). */
  seed?: number;
  /** Containers whose command finishes on its own exit after starting (default true). */
  autoExit?: boolean;
  /** Engine name prefix (default "sim-"); engine i is named prefix + i. */
  namePrefix?: string;
  /** Which dockerd's payloads and version to serve (default 20.10; see bench/payloads). */
  engine?: EngineKind;
  /** The pre-populated containers: plain ones on the bridge (default) or compose projects. */
  workload?: Workload;
}

/** basic: containers of four images on the default bridge; compose: compose projects (see populateCompose). */
export type Workload = 'basic' | 'compose';

export interface SimEngineInfo {
  /** host:port */
  addr: string;
  /** The engine ID as /info reports it. */
  id: string;
  /** The engine name as /info reports it. */
  name: string;
  port: number;
}

export interface Simulator {
  engines: SimEngineInfo[];
  /** Stops listening on every port and ends every open connection and event stream. */
  close(): Promise<void>;
  /** Takes engine i off the network (closes its port and connections), keeping its state. */
  stopEngine(index: number): Promise<void>;
  /** Puts a stopped engine back on its port. */
  startEngine(index: number): Promise<void>;
  /** Container counts, for checks: [total, running]. */
  counts(index: number): { total: number; running: number; images: number };
}

// ---------------------------------------------------------------------------------------------
// Constants

const KERNEL = '5.15.0-91-generic';
const ZERO_TIME = '0001-01-01T00:00:00Z';
const BUILD_TIME = '2023-04-04T18:41:24.000000000+00:00';
const MAX_EVENTS = 256;
const DEFAULT_MEM = 8_232_591_360;
const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};
/** Signals the simulated processes die of; anything else is delivered and ignored. */
const FATAL_SIGNALS = new Set([1, 2, 3, 6, 9, 15]);

// ---------------------------------------------------------------------------------------------
// Small helpers

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  /** mulberry32 */
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  float(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.float() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T;
  }
  hex(chars: number): string {
    let s = '';
    while (s.length < chars) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, chars);
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000000Z');
}

/** go-units HumanDuration, as in "Up 3 hours": the manager's own rendering. */
export { humanDuration };

function asObject(v: unknown): JsonObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : undefined;
}

function nonEmpty(o: JsonObject | undefined): JsonObject | undefined {
  return o && Object.keys(o).length ? o : undefined;
}

function asStringArray(v: unknown): string[] | undefined {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

function asStringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const o = asObject(v);
  if (o) for (const [k, val] of Object.entries(o)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** Docker's httputils.BoolValue. */
function boolParam(q: URLSearchParams, name: string): boolean {
  const v = (q.get(name) ?? '').trim().toLowerCase();
  return !(v === '' || v === '0' || v === 'no' || v === 'false' || v === 'none');
}

function versionLess(a: string, b: string): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x < y;
  }
  return false;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Docker filters: {"k":["v"]} or the legacy {"k":{"v":true}}. */
function parseFilters(raw: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ApiError(400, 'invalid filter');
  }
  const o = asObject(parsed);
  if (!o) throw new ApiError(400, 'invalid filter');
  for (const [k, v] of Object.entries(o)) {
    const arr = Array.isArray(v) ? v : asObject(v) ? Object.keys(asObject(v) ?? {}).filter((x) => asObject(v)?.[x] === true) : undefined;
    if (!arr) throw new ApiError(400, 'invalid filter');
    out.set(
      k,
      arr.filter((x): x is string => typeof x === 'string'),
    );
  }
  return out;
}

function checkFilterKeys(f: Map<string, string[]>, allowed: readonly string[]): void {
  for (const k of f.keys()) if (!allowed.includes(k)) throw new ApiError(400, `invalid filter '${k}'`);
}

function regexMatch(pattern: string, s: string): boolean {
  try {
    return new RegExp(pattern).test(s);
  } catch {
    return false;
  }
}

/** Labels filter: every "k" / "k=v" must match. */
function labelsMatch(wanted: string[] | undefined, labels: Record<string, string>): boolean {
  if (!wanted) return true;
  for (const w of wanted) {
    const eq = w.indexOf('=');
    if (eq < 0) {
      if (!(w in labels)) return false;
    } else if (labels[w.slice(0, eq)] !== w.slice(eq + 1)) return false;
  }
  return true;
}

function globToRegex(glob: string): RegExp {
  let r = '';
  for (const ch of glob) {
    if (ch === '*') r += '[^/]*';
    else if (ch === '?') r += '[^/]';
    else r += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${r}$`);
}

/** "busybox" -> "busybox:latest", "docker.io/library/x:1" -> "x:1". Digest references stay as they are. */
export function normalizeImageRef(ref: string): string {
  let r = ref;
  for (const p of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) if (r.startsWith(p)) r = r.slice(p.length);
  if (r.startsWith('library/') && r.indexOf('/', 8) < 0) r = r.slice(8);
  if (r.includes('@')) return r;
  const lastSlash = r.lastIndexOf('/');
  if (r.indexOf(':', lastSlash + 1) < 0) r += ':latest';
  return r;
}

function validReference(ref: string): boolean {
  return /^[a-z0-9]+(?:[._-][a-z0-9]+|__)*(?::[0-9]+)?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/.test(
    ref,
  );
}

// ---------------------------------------------------------------------------------------------
// Images

interface ImageTemplate {
  tag: string;
  size: number;
  created: string;
  config: JsonObject;
}

const IMAGE_TEMPLATES: ImageTemplate[] = [
  { tag: 'busybox:latest', size: 4_261_550, created: '2023-07-18T23:19:33.655005962Z', config: { Env: [PATH_ENV], Cmd: ['sh'] } },
  {
    tag: 'nginx:latest',
    size: 187_694_648,
    created: '2023-10-24T20:36:43.524154573Z',
    config: {
      ExposedPorts: { '80/tcp': {} },
      Env: [PATH_ENV, 'NGINX_VERSION=1.25.3', 'NJS_VERSION=0.8.2', 'PKG_RELEASE=1~bookworm'],
      Cmd: ['nginx', '-g', 'daemon off;'],
      Entrypoint: ['/docker-entrypoint.sh'],
      Labels: { maintainer: 'NGINX Docker Maintainers <docker-maint@nginx.com>' },
      StopSignal: 'SIGQUIT',
    },
  },
  {
    tag: 'redis:7-alpine',
    size: 40_957_402,
    created: '2023-11-01T01:54:12.512237151Z',
    config: {
      ExposedPorts: { '6379/tcp': {} },
      Env: [PATH_ENV, 'REDIS_VERSION=7.2.3'],
      Cmd: ['redis-server'],
      Entrypoint: ['docker-entrypoint.sh'],
      Volumes: { '/data': {} },
      WorkingDir: '/data',
    },
  },
  { tag: 'alpine:3.19', size: 7_378_663, created: '2023-12-07T22:23:46.283513335Z', config: { Env: [PATH_ENV], Cmd: ['/bin/sh'] } },
];

interface Image {
  id: string; // sha256:<hex>
  tags: string[];
  digests: string[];
  size: number;
  created: string;
  createdSec: number;
  config: JsonObject;
  layers: string[];
}

function makeImage(t: ImageTemplate): Image {
  const hex = sha256(`image:${t.tag}`);
  const repo = t.tag.slice(0, t.tag.lastIndexOf(':'));
  return {
    id: `sha256:${hex}`,
    tags: [t.tag],
    digests: [`${repo}@sha256:${sha256(`digest:${t.tag}`)}`],
    size: t.size,
    created: t.created,
    createdSec: Math.floor(Date.parse(t.created) / 1000),
    config: t.config,
    layers: [`sha256:${sha256(`layer:${t.tag}`)}`],
  };
}

// ---------------------------------------------------------------------------------------------
// Containers, networks, volumes, events

type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
const STATUSES: readonly string[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];

type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  done: (code: number) => void;
}

interface Mount {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

interface Container {
  id: string;
  name: string; // without the leading "/"
  createdMs: number;
  image: string; // Config.Image as given
  imageId: string;
  path: string;
  args: string[];
  config: JsonObject; // merged over the profile's Config defaults when shown
  hostConfig: JsonObject; // merged over the profile's HostConfig defaults when shown
  labels: Record<string, string>;
  network: string; // network name: bridge, host, none or a user network (HostConfig.NetworkMode)
  /** Every network the container is on, the primary first, with its endpoint while running. */
  endpoints: Endpoint[];
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  startedMs: number; // 0 = never
  finishedMs: number; // 0 = never
  restartCount: number;
  sandboxId: string;
  ports: JsonObject | null; // NetworkSettings.Ports while running
  /** Config.Healthcheck was set: State.Health is shown (healthy once started). */
  health: boolean;
  mounts: Mount[];
  sizeRw: number;
  sizeRootFs: number;
  exitTimer: ReturnType<typeof setTimeout> | undefined;
  waiters: Waiter[];
  /** What the simulated process printed (only echo prints), for logs and attach. */
  logs: string[];
}

interface Endpoint {
  network: string;
  aliases: string[] | null;
  ip: string;
  mac: string;
  endpointId: string;
}

interface Attacher {
  socket: Socket;
  tty: boolean;
  stdout: boolean;
}

interface Network {
  id: string;
  name: string;
  driver: string;
  scope: string;
  created: string;
  subnet: string;
  gateway: string;
  options: Record<string, string>;
  builtin: boolean;
  /** Second octet of the 172.x.0.0/16 subnet; 0 for host and none. */
  octet: number;
  labels: Record<string, string>;
  internal: boolean;
  attachable: boolean;
  usedIps: Set<number>;
  nextIp: number;
}

interface Volume {
  name: string;
  created: string;
  labels: Record<string, string>;
  anonymous: boolean;
}

interface SimEvent {
  type: string;
  action: string;
  actorId: string;
  attrs: Record<string, string>;
  timeNano: bigint;
  json: string;
}

interface Subscriber {
  res: ServerResponse;
  filters: Map<string, string[]>;
  untilNano: bigint | undefined;
}

const ADJECTIVES = [
  'admiring', 'adoring', 'agitated', 'amazing', 'angry', 'awesome', 'blissful', 'bold', 'boring', 'brave', 'busy',
  'charming', 'clever', 'cool', 'compassionate', 'competent', 'condescending', 'confident', 'cranky', 'crazy',
  'dazzling', 'determined', 'distracted', 'dreamy', 'eager', 'ecstatic', 'elastic', 'elated', 'elegant', 'eloquent',
  'epic', 'fervent', 'festive', 'flamboyant', 'focused', 'friendly', 'frosty', 'gallant', 'gifted', 'goofy',
  'gracious', 'happy', 'hardcore', 'heuristic', 'hopeful', 'hungry', 'infallible', 'inspiring', 'jolly', 'jovial',
  'keen', 'kind', 'laughing', 'loving', 'lucid', 'magical', 'modest', 'musing', 'mystifying', 'naughty', 'nervous',
  'nifty', 'nostalgic', 'objective', 'optimistic', 'peaceful', 'pedantic', 'pensive', 'practical', 'priceless',
  'quirky', 'quizzical', 'relaxed', 'reverent', 'romantic', 'sad', 'serene', 'sharp', 'silly', 'sleepy', 'stoic',
  'strange', 'stupefied', 'suspicious', 'sweet', 'tender', 'thirsty', 'trusting', 'unruffled', 'upbeat', 'vibrant',
  'vigilant', 'vigorous', 'wizardly', 'wonderful', 'xenodochial', 'youthful', 'zealous', 'zen',
];
const SURNAMES = [
  'albattani', 'allen', 'almeida', 'archimedes', 'ardinghelli', 'aryabhata', 'austin', 'babbage', 'banach', 'bardeen',
  'bartik', 'bassi', 'bell', 'benz', 'bhabha', 'bohr', 'booth', 'borg', 'bose', 'brahmagupta', 'brattain', 'brown',
  'carson', 'chandrasekhar', 'clarke', 'colden', 'cori', 'cray', 'curie', 'darwin', 'davinci', 'dijkstra', 'dubinsky',
  'easley', 'einstein', 'elion', 'engelbart', 'euclid', 'euler', 'fermat', 'fermi', 'feynman', 'franklin', 'galileo',
  'gates', 'goldberg', 'goldstine', 'golick', 'goodall', 'hamilton', 'hawking', 'heisenberg', 'hermann', 'hertz',
  'hodgkin', 'hoover', 'hopper', 'hugle', 'hypatia', 'jackson', 'jang', 'jennings', 'jepsen', 'johnson', 'joliot',
  'jones', 'kalam', 'kare', 'keller', 'kepler', 'khorana', 'kilby', 'kirch', 'knuth', 'kowalevski', 'lalande',
  'lamarr', 'lamport', 'leakey', 'leavitt', 'lewin', 'lichterman', 'liskov', 'lovelace', 'lumiere', 'mahavira',
  'mayer', 'mccarthy', 'mcclintock', 'mclean', 'mcnulty', 'meitner', 'mendel', 'merkle', 'minsky', 'mirzakhani',
  'morse', 'murdock', 'newton', 'nightingale', 'nobel', 'noether', 'northcutt', 'noyce', 'panini', 'pare', 'pasteur',
  'payne', 'perlman', 'pike', 'poincare', 'poitras', 'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'roentgen',
  'rosalind', 'saha', 'sammet', 'shannon', 'shaw', 'shirley', 'shockley', 'sinoussi', 'snyder', 'spence', 'stallman',
  'stonebraker', 'swanson', 'swartz', 'swirles', 'tesla', 'thompson', 'torvalds', 'turing', 'varahamihira',
  'visvesvaraya', 'volhard', 'wescoff', 'wiles', 'williams', 'wilson', 'wing', 'wozniak', 'wright', 'yalow', 'yonath',
];

// ---------------------------------------------------------------------------------------------
// One engine

interface EngineConfig {
  index: number;
  name: string;
  host: string;
  port: number;
  labels: string[];
  ncpu: number;
  memTotal: number;
  latencyMs: number;
  jitterMs: number;
  autoExit: boolean;
  rng: Rng;
  profile: EngineProfile;
  workload: Workload;
  shared: Shared;
}

/** What every engine of one simulator shares: the call counter and the engines (for /_sim). */
interface Shared {
  engines: Engine[];
  calls: Map<string, number>;
  /** TCP connections accepted (a client that keeps its connections alive opens few). */
  connections: number;
}

/** `GET /containers/abc/json` → `GET /containers/{id}/json`: calls counted by route. */
function routeOf(method: string, url: string): string {
  const qi = url.indexOf('?');
  const path = (qi < 0 ? url : url.slice(0, qi)).replace(/^\/v[0-9.]+\//, '/');
  const seg = path.split('/');
  const top = seg[1] ?? '';
  if (seg.length > 2 && ['containers', 'images', 'networks', 'volumes', 'exec'].includes(top)) {
    const fixed = new Set(['json', 'create', 'prune', 'load', 'search', 'get']);
    if (!(seg.length === 3 && fixed.has(seg[2] ?? ''))) seg[2] = top === 'images' && seg.length > 4 ? '{name}' : '{id}';
    if (top === 'images' && seg.length > 4) seg.splice(3, seg.length - 4);
  }
  const filtered = qi >= 0 && /(^|&)filters=/.test(url.slice(qi + 1)) ? '?filters' : '';
  return `${method} ${seg.join('/')}${filtered}`;
}

class Engine {
  readonly id: string;
  readonly name: string;
  port: number;
  readonly containers = new Map<string, Container>(); // insertion order = creation order
  private readonly byName = new Map<string, Container>();
  private readonly images: Image[] = [];
  private readonly networks: Network[] = [];
  private readonly volumes = new Map<string, Volume>();
  private readonly events: SimEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private readonly usedHostPorts = new Set<number>();
  private nextHostPort = 32768;
  private eventSeq = 0n;
  private gen = 0;
  private infoCache: { gen: number; head: string; tail: string } | undefined;
  private listCache = new Map<string, { gen: number; at: number; body: string }>();
  server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly attachers = new Map<string, Set<Attacher>>();
  private readonly bootMs = Date.now();
  private readonly p: EngineProfile;
  /** Headers every answer carries (dockerd's). */
  private readonly headers: Record<string, string>;

  constructor(private readonly cfg: EngineConfig) {
    this.p = cfg.profile;
    this.headers = { 'Api-Version': this.p.apiVersion, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `Docker/${this.p.version} (linux)` };
    const r = cfg.rng;
    const b32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const groups: string[] = [];
    for (let g = 0; g < 12; g++) {
      let s = '';
      for (let k = 0; k < 4; k++) s += b32[r.int(32)];
      groups.push(s);
    }
    this.id = groups.join(':');
    this.name = cfg.name;
    this.port = cfg.port;
    for (const t of IMAGE_TEMPLATES) this.images.push(makeImage(t));
    const created = isoTime(this.bootMs - 86_400_000 * 30);
    this.networks.push(
      {
        id: r.hex(64),
        name: 'bridge',
        driver: 'bridge',
        scope: 'local',
        created: isoTime(this.bootMs - 1000),
        subnet: '172.17.0.0/16',
        gateway: '172.17.0.1',
        builtin: true,
        octet: 17,
        labels: {},
        internal: false,
        attachable: false,
        usedIps: new Set(),
        nextIp: 2,
        options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': 'docker0',
          'com.docker.network.driver.mtu': '1500',
        },
      },
      this.plainNetwork(r.hex(64), 'host', 'host', created),
      this.plainNetwork(r.hex(64), 'none', 'null', created),
    );
    this.volumes.set(`data-${cfg.index}`, { name: `data-${cfg.index}`, created, labels: { 'com.example.purpose': 'data' }, anonymous: false });
  }

  private plainNetwork(id: string, name: string, driver: string, created: string): Network {
    const none = new Set<number>();
    return { id, name, driver, scope: 'local', created, subnet: '', gateway: '', builtin: true, options: {}, octet: 0, labels: {}, internal: false, attachable: false, usedIps: none, nextIp: 2 };
  }

  get addr(): string {
    return `${this.cfg.host}:${this.port}`;
  }

  // -------------------------------------------------------------------------------------------
  // Population

  populate(n: number): void {
    if (this.cfg.workload === 'compose') this.populateCompose(n);
    else this.populateBasic(n);
  }

  /** Containers of the images above with a few labels and ports, on the default bridge. */
  private populateBasic(n: number): void {
    const r = this.cfg.rng;
    const now = Date.now();
    const apps = ['web', 'api', 'cache', 'worker', 'db'];
    for (let i = 0; i < n; i++) {
      const createdMs = now - 86_400_000 * 20 + Math.floor(((i + r.float()) / Math.max(n, 1)) * 86_400_000 * 19);
      const roll = r.float();
      const app = apps[i % apps.length] as string;
      let image: Image;
      let cmd: string[] | null = null;
      let hostConfig: JsonObject = {};
      if (app === 'web' && roll < 0.9) {
        image = this.images[1] as Image;
        hostConfig = { PortBindings: i % 2 === 0 ? { '80/tcp': [{ HostIp: '', HostPort: String(8000 + i) }] } : { '80/tcp': [{ HostIp: '', HostPort: '' }] } };
      } else if (app === 'cache') {
        image = this.images[2] as Image;
      } else if (app === 'db') {
        image = this.images[3] as Image;
        cmd = ['sh', '-c', 'while true; do sleep 3600; done'];
      } else {
        image = this.images[0] as Image;
        cmd = ['sh', '-c', `while true; do echo ${app} ${i}; sleep 60; done`];
      }
      if (i % 7 === 3) hostConfig = { ...hostConfig, Memory: 268_435_456, CpuShares: 512 };
      const labels: Record<string, string> = { 'com.example.app': app, 'com.example.tier': app === 'web' || app === 'api' ? 'frontend' : 'backend' };
      if (i % 4 === 0) labels['com.example.env'] = 'prod';
      const name = i % 3 === 0 ? `${app}-${i}` : this.randomName();
      const c = this.newContainer(r.hex(64), name, createdMs, image, { Cmd: cmd, Labels: labels }, hostConfig, ['bridge']);
      c.sizeRw = r.int(1 << 20);
      this.attachImageVolumes(c, image, createdMs);
      this.settle(c, i, roll, createdMs, now);
    }
  }

  /**
   * Compose projects of five services (web, api, worker, cache, db) as `docker compose up` makes
   * them, after the project captured on a real engine: its labels, two networks (front, back),
   * named volumes and a bind mount, healthchecks, a published port, limits and a restart policy.
   */
  private populateCompose(n: number): void {
    const r = this.cfg.rng;
    const now = Date.now();
    const services = [
      { name: 'web', image: 1, nets: ['front', 'back'], volume: 'static', dest: '/usr/share/nginx/html', health: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://localhost/'], ports: true, limits: true },
      { name: 'api', image: 0, cmd: ['sh', '-c', 'while true; do sleep 3600; done'], nets: ['front', 'back'], volume: 'data', dest: '/var/lib/app', health: ['CMD-SHELL', 'test -d /var/lib/app || exit 1'] },
      { name: 'worker', image: 0, cmd: ['sh', '-c', 'while true; do sleep 60; done'], nets: ['back'], volume: 'data', dest: '/var/lib/app' },
      { name: 'cache', image: 2, nets: ['back'], health: ['CMD', 'redis-cli', 'ping'] },
      { name: 'db', image: 3, cmd: ['sh', '-c', 'while true; do sleep 3600; done'], nets: ['back'], volume: 'db', dest: '/var/lib/db', health: ['CMD-SHELL', 'test -d /var/lib/db'], limits: true },
    ];
    const template = this.p.composeLabels;
    const version = template['com.docker.compose.version'] ?? '2.26.1';
    let i = 0;
    for (let p = 0; i < n; p++) {
      const project = `${ADJECTIVES[(this.cfg.index + p) % ADJECTIVES.length]}-shop-${p}`;
      const dir = `/srv/${project}`;
      const projectLabels = { 'com.docker.compose.project': project, 'com.docker.compose.version': version };
      for (const net of ['front', 'back']) this.addNetwork(`${project}_${net}`, { ...projectLabels, 'com.docker.compose.network': net, ...(net === 'back' ? { 'com.example.net': 'internal' } : {}) });
      for (const vol of ['static', 'data', 'db']) {
        const name = `${project}_${vol}`;
        this.volumes.set(name, { name, created: isoTime(now - 86_400_000 * 21), labels: { ...projectLabels, 'com.docker.compose.volume': vol }, anonymous: false });
      }
      for (const svc of services) {
        if (i >= n) break;
        const image = this.images[svc.image] as Image;
        const createdMs = now - 86_400_000 * 20 + Math.floor(((i + r.float()) / Math.max(n, 1)) * 86_400_000 * 19);
        const labels: Record<string, string> = {};
        for (const k of Object.keys(template)) {
          labels[k] = template[k] ?? '';
          if (k === 'com.docker.compose.config-hash') labels[k] = r.hex(64);
          else if (k === 'com.docker.compose.image') labels[k] = image.id;
          else if (k === 'com.docker.compose.project') labels[k] = project;
          else if (k === 'com.docker.compose.project.config_files') labels[k] = `${dir}/compose.yaml`;
          else if (k === 'com.docker.compose.project.working_dir') labels[k] = dir;
          else if (k === 'com.docker.compose.service') labels[k] = svc.name;
          else if (k === 'com.example.tier') labels[k] = svc.nets.includes('front') ? 'frontend' : 'backend';
        }
        labels['com.example.app'] = svc.name;
        const hostConfig: JsonObject = { ...this.p.composeHostConfig, NetworkMode: `${project}_${svc.nets.at(-1)}`, RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 } };
        const mounts: Json[] = [];
        if (svc.volume) mounts.push({ Type: 'volume', Source: `${project}_${svc.volume}`, Target: svc.dest ?? '/data', VolumeOptions: {} });
        if (mounts.length) hostConfig.Mounts = mounts;
        if (svc.ports) {
          hostConfig.Binds = [`${dir}/conf:/etc/web:ro`];
          hostConfig.PortBindings = { '80/tcp': [{ HostIp: '', HostPort: String(8000 + p) }], '443/tcp': [{ HostIp: '', HostPort: '' }] };
        }
        if (svc.limits) Object.assign(hostConfig, { Memory: 268_435_456, NanoCpus: 500_000_000, MemorySwap: 536_870_912 });
        const user: JsonObject = {
          Cmd: svc.cmd ?? null,
          Labels: labels,
          Env: ['APP_ENV=production', `SERVICE=${svc.name}`, 'LOG_LEVEL=info'],
          AttachStdout: true,
          AttachStderr: true,
        };
        if (svc.ports) user.ExposedPorts = { '80/tcp': {}, '443/tcp': {} };
        if (svc.health) user.Healthcheck = { ...this.p.healthcheck, Test: svc.health };
        const name = `${project}-${svc.name}-1`;
        const c = this.newContainer(r.hex(64), name, createdMs, image, user, hostConfig, svc.nets.map((x) => `${project}_${x}`).reverse());
        for (const ep of c.endpoints) ep.aliases = [name, svc.name];
        if (svc.ports) c.mounts.push({ Type: 'bind', Source: `${dir}/conf`, Destination: '/etc/web', Mode: 'ro', RW: false, Propagation: 'rprivate' });
        if (svc.volume) c.mounts.push(this.volumeMount(`${project}_${svc.volume}`, svc.dest ?? '/data', 'z'));
        c.sizeRw = r.int(1 << 20);
        this.attachImageVolumes(c, image, createdMs);
        this.settle(c, i, r.float(), createdMs, now);
        i++;
      }
    }
  }

  /** A container as `create` makes it, in the engine's tables, not started. */
  private newContainer(id: string, name: string, createdMs: number, image: Image, user: JsonObject, hostConfig: JsonObject, networks: string[]): Container {
    const config = this.makeConfig(id, image, user);
    const argv = [...(asStringArray(config.Entrypoint) ?? []), ...(asStringArray(config.Cmd) ?? [])];
    const c: Container = {
      id,
      name,
      createdMs,
      image: typeof user.Image === 'string' ? user.Image : (image.tags[0]?.replace(/:latest$/, '') ?? image.id),
      imageId: image.id,
      path: argv[0] ?? '',
      args: argv.slice(1),
      config,
      hostConfig,
      labels: asStringMap(config.Labels),
      network: networks[0] ?? 'none',
      endpoints: networks.map((network) => ({ network, aliases: null, ip: '', mac: '', endpointId: '' })),
      status: 'created',
      pid: 0,
      exitCode: 0,
      startedMs: 0,
      finishedMs: 0,
      restartCount: 0,
      sandboxId: '',
      ports: null,
      health: asObject(config.Healthcheck) !== undefined,
      mounts: [],
      sizeRw: 0,
      sizeRootFs: image.size,
      exitTimer: undefined,
      waiters: [],
      logs: [],
    };
    this.containers.set(id, c);
    this.byName.set(name, c);
    return c;
  }

  /** The pre-populated mix: about 60% running (a few paused), 30% exited, the rest created. */
  private settle(c: Container, i: number, roll: number, createdMs: number, now: number): void {
    const r = this.cfg.rng;
    if (roll < 0.65) {
      c.startedMs = createdMs + 500 + r.int(2000);
      if (!this.startNetworking(c, false)) c.startedMs = 0;
      else {
        c.status = i % 17 === 16 ? 'paused' : 'running';
        c.pid = 1000 + r.int(60000);
      }
    } else if (roll < 0.95) {
      c.startedMs = createdMs + 500 + r.int(2000);
      c.finishedMs = c.startedMs + r.int(86_400_000);
      if (c.finishedMs > now) c.finishedMs = now - 1000;
      c.status = 'exited';
      c.exitCode = r.pick([0, 0, 0, 1, 137, 143, 2]);
    }
  }

  /** A user-defined bridge network on the next free 172.x.0.0/16. */
  private addNetwork(name: string, labels: Record<string, string>): Network {
    const used = new Set(this.networks.map((n) => n.octet));
    let octet = 18;
    while (used.has(octet) && octet < 254) octet++;
    const n: Network = {
      id: this.cfg.rng.hex(64),
      name,
      driver: 'bridge',
      scope: 'local',
      created: isoTime(Date.now() - 86_400_000 * 21),
      subnet: `172.${octet}.0.0/16`,
      gateway: `172.${octet}.0.1`,
      options: {},
      builtin: false,
      octet,
      labels,
      internal: false,
      attachable: false,
      usedIps: new Set(),
      nextIp: 2,
    };
    this.networks.push(n);
    return n;
  }

  private randomName(): string {
    const r = this.cfg.rng;
    for (;;) {
      let name = `${r.pick(ADJECTIVES)}_${r.pick(SURNAMES)}`;
      if (this.byName.has(name)) name += String(r.int(10));
      if (!this.byName.has(name)) return name;
    }
  }

  private makeConfig(id: string, image: Image, user: JsonObject): JsonObject {
    const ic = image.config;
    const env = asStringArray(user.Env) ?? [];
    const imgEnv = asStringArray(ic.Env) ?? [];
    let mergedEnv: string[] = imgEnv;
    if (env.length) {
      const keys = new Set(env.map((e) => e.split('=')[0]));
      mergedEnv = [...imgEnv.filter((e) => !keys.has(e.split('=')[0])), ...env];
    }
    const userCmd = user.Cmd;
    const userEntry = user.Entrypoint;
    const hasEntry = Array.isArray(userEntry) ? userEntry.length > 0 : typeof userEntry === 'string' && userEntry !== '';
    const cmd = Array.isArray(userCmd) && userCmd.length > 0 ? userCmd : hasEntry ? null : (ic.Cmd ?? null);
    const labels = { ...asStringMap(ic.Labels), ...asStringMap(user.Labels) };
    const exposed = { ...(asObject(ic.ExposedPorts) ?? {}), ...(asObject(user.ExposedPorts) ?? {}) };
    const out: JsonObject = {
      ...user,
      Hostname: typeof user.Hostname === 'string' && user.Hostname ? user.Hostname : id.slice(0, 12),
      Env: mergedEnv,
      Cmd: cmd,
      Image: typeof user.Image === 'string' ? user.Image : (image.tags[0]?.replace(/:latest$/, '') ?? image.id),
      Entrypoint: hasEntry ? (userEntry ?? null) : (ic.Entrypoint ?? null),
      Labels: labels,
      Volumes: nonEmpty(asObject(user.Volumes)) ?? nonEmpty(asObject(ic.Volumes)) ?? null,
      WorkingDir: typeof user.WorkingDir === 'string' && user.WorkingDir ? user.WorkingDir : typeof ic.WorkingDir === 'string' ? ic.WorkingDir : '',
    };
    if (Object.keys(exposed).length) out.ExposedPorts = exposed;
    else delete out.ExposedPorts;
    if (typeof ic.StopSignal === 'string' && out.StopSignal === undefined) out.StopSignal = ic.StopSignal;
    return out;
  }

  private attachImageVolumes(c: Container, image: Image, createdMs: number): void {
    const vols = asObject(image.config.Volumes);
    if (!vols) return;
    for (const dest of Object.keys(vols)) {
      if (c.mounts.some((m) => m.Destination === dest)) continue;
      const name = this.cfg.rng.hex(64);
      this.volumes.set(name, { name, created: isoTime(createdMs), labels: {}, anonymous: true });
      c.mounts.push(this.volumeMount(name, dest, ''));
    }
  }

  private volumeMount(name: string, dest: string, mode: string): Mount {
    return {
      Type: 'volume',
      Name: name,
      Source: `/var/lib/docker/volumes/${name}/_data`,
      Destination: dest,
      Driver: 'local',
      Mode: mode,
      RW: !/(^|,)ro(,|$)/.test(mode),
      Propagation: '',
    };
  }

  // -------------------------------------------------------------------------------------------
  // Lookups

  /** Like daemon.GetContainer: full ID, then name, then unique ID prefix. */
  lookup(ref: string): Container {
    const byId = this.containers.get(ref);
    if (byId) return byId;
    const byName = this.byName.get(ref.startsWith('/') ? ref.slice(1) : ref);
    if (byName) return byName;
    if (ref && /^[0-9a-f]+$/.test(ref)) {
      let found: Container | undefined;
      for (const c of this.containers.values()) {
        if (c.id.startsWith(ref)) {
          if (found) throw new ApiError(400, `multiple IDs found with provided prefix: ${ref}`);
          found = c;
        }
      }
      if (found) return found;
    }
    throw new ApiError(404, `No such container: ${ref}`);
  }

  lookupImage(ref: string): Image | undefined {
    if (!ref) return undefined;
    if (!ref.includes('@')) {
      const tag = normalizeImageRef(ref);
      const byTag = this.images.find((i) => i.tags.includes(tag));
      if (byTag) return byTag;
    } else {
      const norm = normalizeImageRef(ref);
      const byDigest = this.images.find((i) => i.digests.includes(norm));
      if (byDigest) return byDigest;
    }
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[0-9a-f]+$/.test(hex)) {
      const matches = this.images.filter((i) => i.id.slice(7).startsWith(hex));
      if (matches.length === 1) return matches[0];
    }
    return undefined;
  }

  private imageNotFound(ref: string): ApiError {
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    return new ApiError(404, `No such image: ${/^[0-9a-f]{12,64}$/.test(hex) || ref.includes('@') ? ref : normalizeImageRef(ref)}`);
  }

  private lookupNetwork(ref: string): Network | undefined {
    return (
      this.networks.find((n) => n.id === ref) ??
      this.networks.find((n) => n.name === ref) ??
      (ref ? this.networks.filter((n) => n.id.startsWith(ref)).at(0) : undefined)
    );
  }

  counts(): { total: number; running: number; paused: number; stopped: number; images: number } {
    let running = 0;
    let paused = 0;
    for (const c of this.containers.values()) {
      if (c.status === 'paused') paused++;
      else if (c.status === 'running' || c.status === 'restarting') running++;
    }
    const total = this.containers.size;
    return { total, running, paused, stopped: total - running - paused, images: this.images.length };
  }

  // -------------------------------------------------------------------------------------------
  // State changes

  private changed(): void {
    this.gen++;
  }

  private emit(type: string, action: string, actorId: string, attrs: Record<string, string>, from?: string): void {
    const nowMs = BigInt(Date.now());
    const timeNano = nowMs * 1_000_000n + (this.eventSeq++ % 1_000_000n);
    const time = Number(timeNano / 1_000_000_000n);
    const ev: JsonObject = {};
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = actorId;
      if (from !== undefined) ev.from = from;
    }
    ev.Type = type;
    ev.Action = action;
    ev.Actor = { ID: actorId, Attributes: attrs };
    ev.scope = 'local';
    ev.time = time;
    const json = `${JSON.stringify(ev).slice(0, -1)},"timeNano":${timeNano}}\n`;
    const rec: SimEvent = { type, action, actorId, attrs, timeNano, json };
    this.events.push(rec);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    for (const s of this.subscribers) {
      if (s.untilNano !== undefined && timeNano > s.untilNano) continue;
      if (eventMatches(rec, s.filters)) s.res.write(json);
    }
  }

  private containerEvent(c: Container, action: string, extra?: Record<string, string>): void {
    this.emit('container', action, c.id, { ...c.labels, image: c.image, name: c.name, ...extra }, c.image);
  }

  private networkEvent(c: Container, action: 'connect' | 'disconnect'): void {
    for (const ep of c.endpoints) {
      const n = this.lookupNetwork(ep.network);
      if (!n || n.name === 'host' || n.name === 'none') continue;
      this.emit('network', action, n.id, { container: c.id, name: n.name, type: n.driver });
    }
  }

  private allocIp(net: Network): number {
    for (let tries = 0; tries < 65533; tries++) {
      const n = net.nextIp;
      net.nextIp = net.nextIp >= 65534 ? 2 : net.nextIp + 1;
      if (!net.usedIps.has(n)) {
        net.usedIps.add(n);
        return n;
      }
    }
    throw new ApiError(500, 'no available IPv4 addresses on this network');
  }

  /** Allocates IP, MAC and host ports. Returns false (and changes nothing) if a port is taken. */
  private startNetworking(c: Container, strict: boolean): boolean {
    const pb = asObject(c.hostConfig.PortBindings) ?? {};
    const exposed = asObject(c.config.ExposedPorts) ?? {};
    const ports: JsonObject = {};
    const claimed: number[] = [];
    const publishAll = c.hostConfig.PublishAllPorts === true;
    const keys = new Set([...Object.keys(exposed), ...Object.keys(pb)]);
    for (const key of keys) {
      const bindings = Array.isArray(pb[key]) ? (pb[key] as Json[]) : publishAll ? [{ HostIp: '', HostPort: '' }] : [];
      if (!bindings.length) {
        ports[key] = null;
        continue;
      }
      const out: Json[] = [];
      for (const b of bindings) {
        const bo = asObject(b) ?? {};
        const anyIp = !(typeof bo.HostIp === 'string' && bo.HostIp);
        const hostIp = anyIp ? '0.0.0.0' : String(bo.HostIp);
        const hp = typeof bo.HostPort === 'string' ? bo.HostPort : '';
        let port = Number.parseInt(hp, 10);
        if (!Number.isFinite(port) || port <= 0) {
          do port = this.nextHostPort = this.nextHostPort >= 60999 ? 32768 : this.nextHostPort + 1;
          while (this.usedHostPorts.has(port) || claimed.includes(port));
        } else if (this.usedHostPorts.has(port) || claimed.includes(port)) {
          if (!strict) return false;
          const ep = this.cfg.rng.hex(64);
          throw new ApiError(
            500,
            `driver failed programming external connectivity on endpoint ${c.name} (${ep}): Bind for ${hostIp}:${port} failed: port is already allocated`,
          );
        }
        claimed.push(port);
        out.push({ HostIp: hostIp, HostPort: String(port) });
        // dockerd (docker-proxy) binds an unspecified host IP on IPv4 and IPv6 alike.
        if (anyIp) out.push({ HostIp: '::', HostPort: String(port) });
      }
      ports[key] = out;
    }
    for (const p of claimed) this.usedHostPorts.add(p);
    c.ports = ports;
    for (const ep of c.endpoints) {
      const net = this.lookupNetwork(ep.network);
      if (!net?.octet) continue;
      const n = this.allocIp(net);
      ep.ip = `172.${net.octet}.${n >> 8}.${n & 255}`;
      ep.mac = `02:42:ac:${net.octet.toString(16).padStart(2, '0')}:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
      ep.endpointId = this.cfg.rng.hex(64);
    }
    c.sandboxId = this.cfg.rng.hex(64);
    return true;
  }

  private stopNetworking(c: Container): void {
    for (const ep of c.endpoints) {
      if (ep.ip) {
        const parts = ep.ip.split('.');
        this.lookupNetwork(ep.network)?.usedIps.delete(Number(parts[2]) * 256 + Number(parts[3]));
      }
      ep.ip = '';
      ep.mac = '';
      ep.endpointId = '';
    }
    for (const bindings of Object.values(c.ports ?? {})) {
      if (Array.isArray(bindings)) for (const b of bindings) this.usedHostPorts.delete(Number(asObject(b)?.HostPort));
    }
    c.ports = null;
    c.sandboxId = '';
  }

  create(name: string | null, body: JsonObject): Container {
    if (name !== null && name !== '') {
      if (!/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
        throw new ApiError(400, `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
      }
      const plain = name.startsWith('/') ? name.slice(1) : name;
      const taken = this.byName.get(plain);
      if (taken) {
        throw new ApiError(
          409,
          `Conflict. The container name "/${plain}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
        );
      }
    }
    const imageRef = typeof body.Image === 'string' ? body.Image : '';
    if (!imageRef) throw new ApiError(400, 'No command specified');
    const image = this.lookupImage(imageRef);
    if (!image) {
      if (!validReference(imageRef) && !imageRef.startsWith('sha256:')) throw new ApiError(400, 'invalid reference format');
      throw this.imageNotFound(imageRef);
    }
    const hostConfig = applyHostConfigDefaults(asObject(body.HostConfig) ?? {}, this.p);
    const netMode = typeof hostConfig.NetworkMode === 'string' ? hostConfig.NetworkMode : 'default';
    const network = netMode === 'default' || netMode === '' ? 'bridge' : netMode;
    // dockerd 23 and later write the default network mode out as its name.
    if (network === 'bridge' && this.p.kind !== '20.10') hostConfig.NetworkMode = 'bridge';
    if (!network.startsWith('container:') && !this.lookupNetwork(network)) throw new ApiError(404, `network ${network} not found`);
    // API 1.44 and later connect a container to every network of EndpointsConfig at create.
    const endpoints = asObject(asObject(body.NetworkingConfig)?.EndpointsConfig) ?? {};
    const primary = network.startsWith('container:') ? 'none' : (this.lookupNetwork(network)?.name ?? network);
    const more = Object.keys(endpoints)
      .map((k) => this.lookupNetwork(k)?.name)
      .filter((k): k is string => k !== undefined && k !== primary);
    const user: JsonObject = { ...body };
    delete user.HostConfig;
    delete user.NetworkingConfig;
    const id = this.cfg.rng.hex(64);
    const config = this.makeConfig(id, image, user);
    if (!asStringArray(config.Cmd)?.length && !asStringArray(config.Entrypoint)?.length) throw new ApiError(400, 'No command specified');
    const plainName = name ? (name.startsWith('/') ? name.slice(1) : name) : this.randomName();
    const createdMs = Date.now();
    const c = this.newContainer(id, plainName, createdMs, image, { ...user, Image: imageRef }, hostConfig, [primary, ...more]);
    for (const ep of c.endpoints) {
      const cfg = asObject(endpoints[ep.network]) ?? asObject(Object.entries(endpoints).find(([k]) => this.lookupNetwork(k)?.name === ep.network)?.[1]);
      const aliases = asStringArray(cfg?.Aliases);
      if (aliases?.length) ep.aliases = aliases;
    }
    for (const bind of asStringArray(hostConfig.Binds) ?? []) {
      const [src = '', dest = '', mode = ''] = bind.split(':');
      if (!dest) continue;
      if (src.startsWith('/')) {
        c.mounts.push({ Type: 'bind', Source: src, Destination: dest, Mode: mode, RW: !/(^|,)ro(,|$)/.test(mode), Propagation: 'rprivate' });
      } else {
        if (!this.volumes.has(src)) {
          this.volumes.set(src, { name: src, created: isoTime(createdMs), labels: {}, anonymous: false });
          this.emit('volume', 'create', src, { driver: 'local' });
        }
        c.mounts.push(this.volumeMount(src, dest, mode || 'z'));
      }
    }
    this.attachImageVolumes(c, image, createdMs);
    this.changed();
    this.containerEvent(c, 'create');
    return c;
  }

  /** Returns false when already running (304). */
  start(c: Container): boolean {
    if (c.status === 'paused') throw new ApiError(409, 'cannot start a paused container, try unpause instead');
    if (c.status === 'running' || c.status === 'restarting') return false;
    if (c.status === 'removing' || c.status === 'dead') throw new ApiError(409, `container is marked for removal and cannot be started`);
    if (!this.lookupNetwork(c.network)) throw new ApiError(404, `network ${c.network} not found`);
    this.startNetworking(c, true);
    c.status = 'running';
    c.pid = 1000 + this.cfg.rng.int(60000);
    c.startedMs = Date.now();
    c.finishedMs = 0;
    c.exitCode = 0;
    this.changed();
    this.networkEvent(c, 'connect');
    this.containerEvent(c, 'start');
    this.scheduleAutoExit(c);
    return true;
  }

  private print(c: Container, text: string): void {
    c.logs.push(text);
    if (c.logs.length > 100) c.logs.shift();
    for (const a of this.attachers.get(c.id) ?? []) if (a.stdout) a.socket.write(frame(1, text, a.tty));
  }

  private scheduleAutoExit(c: Container): void {
    if (!this.cfg.autoExit) return;
    const argv = [c.path, ...c.args];
    const base = (argv[0] ?? '').split('/').pop() ?? '';
    let afterMs: number | undefined;
    let code = 0;
    const interactive = c.config.OpenStdin === true || c.config.Tty === true;
    if (base === 'sleep' && argv.length === 2) {
      const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(argv[1] ?? '');
      if (m) afterMs = Number(m[1]) * ({ '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? ''] ?? 1000);
    } else if (base === 'echo') {
      afterMs = 0;
      this.print(c, `${argv.slice(1).join(' ')}\n`);
    } else if (base === 'true' && argv.length === 1) afterMs = 0;
    else if (base === 'false' && argv.length === 1) {
      afterMs = 0;
      code = 1;
    } else if ((base === 'sh' || base === 'bash' || base === 'ash') && argv.length === 1 && !interactive) afterMs = 0;
    else if ((base === 'sh' || base === 'bash') && argv[1] === '-c' && argv.length === 3) {
      const m = /^\s*exit\s+(\d+)\s*$/.exec(argv[2] ?? '');
      if (m) {
        afterMs = 0;
        code = Number(m[1]) & 255;
      } else if (/^\s*(true|:)?\s*$/.test(argv[2] ?? '')) afterMs = 0;
    }
    if (afterMs === undefined || afterMs > 2_147_483_000) return;
    const t = setTimeout(() => {
      c.exitTimer = undefined;
      if (c.status === 'running' && this.containers.get(c.id) === c) this.die(c, code);
    }, afterMs + 5);
    t.unref?.();
    c.exitTimer = t;
  }

  private die(c: Container, exitCode: number): void {
    if (c.exitTimer) clearTimeout(c.exitTimer);
    c.exitTimer = undefined;
    c.status = 'exited';
    c.exitCode = exitCode;
    c.pid = 0;
    c.finishedMs = Date.now();
    this.stopNetworking(c);
    this.changed();
    const attached = this.attachers.get(c.id);
    if (attached) {
      this.attachers.delete(c.id);
      for (const a of attached) a.socket.end();
    }
    this.containerEvent(c, 'die', { exitCode: String(exitCode) });
    this.networkEvent(c, 'disconnect');
    const keep: Waiter[] = [];
    for (const w of c.waiters) {
      if (w.condition === 'removed') keep.push(w);
      else w.done(exitCode);
    }
    c.waiters = keep;
    if (c.hostConfig.AutoRemove === true) this.remove(c, false, true);
  }

  /** Returns false if not running (304). */
  stop(c: Container, signal: string | null): boolean {
    if (c.status !== 'running' && c.status !== 'paused' && c.status !== 'restarting') return false;
    const stopSig = signal || (typeof c.config.StopSignal === 'string' ? c.config.StopSignal : 'SIGTERM');
    const num = parseSignal(stopSig) ?? 15;
    this.containerEvent(c, 'kill', { signal: String(num) });
    // Apps that declare a stop signal shut down cleanly; the rest die of the signal.
    this.die(c, typeof c.config.StopSignal === 'string' && !signal ? 0 : 128 + num);
    this.containerEvent(c, 'stop');
    return true;
  }

  kill(c: Container, signal: string | null): void {
    const num = parseSignal(signal || 'KILL');
    if (num === undefined) throw new ApiError(400, `Invalid signal: ${signal ?? ''}`);
    if (c.status !== 'running' && c.status !== 'paused' && c.status !== 'restarting') {
      throw new ApiError(409, `Cannot kill container: ${c.id.slice(0, 12)}: Container ${c.id} is not running`);
    }
    this.containerEvent(c, 'kill', { signal: String(num) });
    if (FATAL_SIGNALS.has(num) || c.status === 'paused') this.die(c, 128 + num);
  }

  restart(c: Container): void {
    if (c.status === 'running' || c.status === 'paused') this.stop(c, null);
    this.start(c);
    c.restartCount = 0;
    this.containerEvent(c, 'restart');
  }

  pause(c: Container): void {
    if (c.status === 'paused') throw new ApiError(409, `Container ${c.id} is already paused`);
    if (c.status !== 'running') throw new ApiError(409, `Container ${c.id} is not running`);
    c.status = 'paused';
    this.changed();
    this.containerEvent(c, 'pause');
  }

  unpause(c: Container): void {
    if (c.status !== 'paused') throw new ApiError(409, `Container ${c.id} is not paused`);
    c.status = 'running';
    this.changed();
    this.containerEvent(c, 'unpause');
  }

  rename(c: Container, name: string | null): void {
    if (!name || !/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
      throw new ApiError(400, `Invalid container name (${name ?? ''}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    const plain = name.startsWith('/') ? name.slice(1) : name;
    if (plain === c.name) throw new ApiError(400, 'Renaming a container with the same name as its current name');
    const taken = this.byName.get(plain);
    if (taken) throw new ApiError(409, `Conflict. The container name "/${plain}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    const old = c.name;
    this.byName.delete(old);
    c.name = plain;
    this.byName.set(plain, c);
    this.changed();
    this.containerEvent(c, 'rename', { oldName: `/${old}` });
  }

  remove(c: Container, force: boolean, removeVolumes: boolean): void {
    if (c.status === 'paused' && !force) {
      throw new ApiError(409, `You cannot remove a paused container ${c.id}. Unpause and then stop the container before attempting removal or force remove`);
    }
    if ((c.status === 'running' || c.status === 'restarting') && !force) {
      throw new ApiError(409, `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
    }
    if (c.status === 'running' || c.status === 'paused' || c.status === 'restarting') {
      this.containerEvent(c, 'kill', { signal: '9' });
      this.die(c, 137);
      if (!this.containers.has(c.id)) return; // AutoRemove already took it
    }
    this.containers.delete(c.id);
    this.byName.delete(c.name);
    for (const m of c.mounts) {
      if (m.Type !== 'volume' || !m.Name) continue;
      const v = this.volumes.get(m.Name);
      if (v?.anonymous && removeVolumes) {
        this.volumes.delete(m.Name);
        this.emit('volume', 'destroy', m.Name, { driver: 'local' });
      }
    }
    this.changed();
    this.containerEvent(c, 'destroy');
    for (const w of c.waiters) w.done(c.exitCode);
    c.waiters = [];
  }

  pull(ref: string): { image: Image; fresh: boolean } {
    const tag = normalizeImageRef(ref);
    const existing = this.lookupImage(tag);
    if (existing) return { image: existing, fresh: false };
    const img = makeImage({
      tag,
      size: 5_000_000 + this.cfg.rng.int(100_000_000),
      created: isoTime(Date.now() - 86_400_000 * (1 + this.cfg.rng.int(300))),
      config: { Env: [PATH_ENV], Cmd: ['/bin/sh'] },
    });
    this.images.push(img);
    this.changed();
    this.emit('image', 'pull', tag, { name: tag.replace(/:latest$/, '') });
    return { image: img, fresh: true };
  }

  // -------------------------------------------------------------------------------------------
  // Views

  private stateString(c: Container, now: number): string {
    switch (c.status) {
      case 'paused':
        return `Up ${humanDuration(now - c.startedMs)} (Paused)`;
      case 'running':
        return `Up ${humanDuration(now - c.startedMs)}`;
      case 'restarting':
        return `Restarting (${c.exitCode}) ${humanDuration(now - c.finishedMs)} ago`;
      case 'removing':
        return 'Removal In Progress';
      case 'dead':
        return 'Dead';
      default:
        if (!c.startedMs) return 'Created';
        if (!c.finishedMs) return '';
        return `Exited (${c.exitCode}) ${humanDuration(now - c.finishedMs)} ago`;
    }
  }

  /**
   * One network endpoint in dockerd's key order (the profile's): the list carries the addresses
   * only, the inspect the aliases and DNS names as well. NetworkID is set once the container was
   * first started, as dockerd does.
   */
  private endpointJson(c: Container, ep: Endpoint, inList: boolean): JsonObject {
    const n = this.lookupNetwork(ep.network);
    const running = ep.ip !== '';
    const prefix = n?.name === 'bridge' || (n && n.subnet) ? 16 : 0;
    const values: JsonObject = {
      IPAMConfig: null,
      Links: null,
      Aliases: inList ? null : ep.aliases,
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
      DNSNames: inList || !running || !n || n.builtin ? null : [c.name, ...(ep.aliases ?? []).filter((a) => a !== c.name), c.id.slice(0, 12)],
    };
    const out: JsonObject = {};
    for (const k of Object.keys(this.p.endpointZero)) out[k] = values[k] ?? this.p.endpointZero[k] ?? null;
    return out;
  }

  private networksJson(c: Container, inList: boolean): JsonObject {
    const out: JsonObject = {};
    for (const ep of c.endpoints) out[ep.network] = this.endpointJson(c, ep, inList);
    return out;
  }

  private listItem(c: Container, size: boolean, now: number): JsonObject {
    const ports: Json[] = [];
    for (const [key, bindings] of Object.entries(c.ports ?? {})) {
      const [p, proto = 'tcp'] = key.split('/');
      const priv = Number(p);
      if (Array.isArray(bindings) && bindings.length) {
        for (const b of bindings) {
          const bo = asObject(b) ?? {};
          ports.push({ IP: typeof bo.HostIp === 'string' ? bo.HostIp : '0.0.0.0', PrivatePort: priv, PublicPort: Number(bo.HostPort), Type: proto });
        }
      } else ports.push({ PrivatePort: priv, Type: proto });
    }
    const item: JsonObject = {
      Id: c.id,
      Names: [`/${c.name}`],
      Image: c.image,
      ImageID: c.imageId,
      Command: c.args.length ? `${c.path} ${c.args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}` : c.path,
      Created: Math.floor(c.createdMs / 1000),
      Ports: ports,
      Labels: c.labels,
    };
    if (size) {
      item.SizeRw = c.sizeRw;
      item.SizeRootFs = c.sizeRootFs + c.sizeRw;
    }
    item.State = c.status;
    item.Status = this.stateString(c, now);
    item.HostConfig = { NetworkMode: typeof c.hostConfig.NetworkMode === 'string' ? c.hostConfig.NetworkMode : 'default' };
    item.NetworkSettings = { Networks: this.networksJson(c, true) };
    item.Mounts = c.mounts.map((m) => ({ ...m }) as unknown as JsonObject);
    return item;
  }

  listContainers(q: URLSearchParams): string {
    const rawFilters = q.get('filters');
    const size = boolParam(q, 'size');
    const limit = Number.parseInt(q.get('limit') ?? '', 10) || -1;
    let all = boolParam(q, 'all');
    const now = Date.now();
    const cacheable = !rawFilters && limit <= 0 && !q.get('before') && !q.get('since');
    const key = `${all ? 1 : 0}${size ? 1 : 0}`;
    if (cacheable) {
      const hit = this.listCache.get(key);
      if (hit && hit.gen === this.gen && now - hit.at < 1000) return hit.body;
    }
    const f = parseFilters(rawFilters);
    checkFilterKeys(f, ['ancestor', 'before', 'expose', 'exited', 'health', 'id', 'isolation', 'is-task', 'label', 'name', 'network', 'publish', 'since', 'status', 'volume']);
    for (const s of f.get('status') ?? []) {
      if (!STATUSES.includes(s)) throw new ApiError(400, `invalid filter 'status=${s}'`);
      all = true;
    }
    const exited = (f.get('exited') ?? []).map((v) => {
      const n = Number.parseInt(v, 10);
      if (!Number.isFinite(n)) throw new ApiError(400, `invalid filter 'exited=${v}'`);
      return n;
    });
    const before = f.get('before')?.[0] ?? q.get('before');
    const since = f.get('since')?.[0] ?? q.get('since');
    const beforeC = before ? this.lookup(before) : undefined;
    const sinceC = since ? this.lookup(since) : undefined;
    const ancestors = (f.get('ancestor') ?? []).map((a) => this.lookupImage(a)?.id ?? `missing:${a}`);
    const list = [...this.containers.values()].reverse();
    const out: JsonObject[] = [];
    let seenBefore = beforeC === undefined;
    for (const c of list) {
      if (!seenBefore) {
        if (c === beforeC) seenBefore = true;
        continue;
      }
      if (sinceC && c === sinceC) break;
      const running = c.status === 'running' || c.status === 'paused' || c.status === 'restarting';
      if (!running && !all && limit <= 0 && !beforeC && !sinceC) continue;
      const st = f.get('status');
      if (st && !st.includes(c.status)) continue;
      if (exited.length && (c.status !== 'exited' || !exited.includes(c.exitCode))) continue;
      const names = f.get('name');
      if (names && !names.some((n) => regexMatch(n, `/${c.name}`))) continue;
      const ids = f.get('id');
      if (ids && !ids.some((i) => regexMatch(i, c.id))) continue;
      if (!labelsMatch(f.get('label'), c.labels)) continue;
      if (ancestors.length && !ancestors.includes(c.imageId)) continue;
      const nets = f.get('network');
      if (nets) {
        const on = c.endpoints.map((ep) => this.lookupNetwork(ep.network)).filter((n): n is Network => n !== undefined);
        if (!on.some((n) => nets.some((x) => x === n.name || n.id.startsWith(x)))) continue;
      }
      const vols = f.get('volume');
      if (vols && !vols.some((v) => c.mounts.some((m) => m.Name === v || m.Source === v || m.Destination === v))) continue;
      const pub = f.get('publish');
      if (pub && !pub.some((p) => this.listItemPorts(c).some((x) => x.pub === p || `${x.pub}/${x.proto}` === p))) continue;
      const exp = f.get('expose');
      if (exp && !exp.some((p) => Object.keys(asObject(c.config.ExposedPorts) ?? {}).some((k) => k === p || k.split('/')[0] === p))) continue;
      if (f.get('is-task')?.includes('true')) continue;
      out.push(this.listItem(c, size, now));
      if (limit > 0 && out.length >= limit) break;
    }
    const body = `${JSON.stringify(out)}\n`;
    if (cacheable) this.listCache.set(key, { gen: this.gen, at: now, body });
    return body;
  }

  private listItemPorts(c: Container): { pub: string; proto: string }[] {
    const out: { pub: string; proto: string }[] = [];
    for (const [key, bindings] of Object.entries(c.ports ?? {})) {
      const proto = key.split('/')[1] ?? 'tcp';
      if (Array.isArray(bindings)) for (const b of bindings) out.push({ pub: String(asObject(b)?.HostPort ?? ''), proto });
    }
    return out;
  }

  /** The probe results of a healthy container: the last five, one per interval, as dockerd keeps them. */
  private healthJson(c: Container, now: number): JsonObject {
    const running = c.status === 'running' || c.status === 'paused';
    const interval = Number(asObject(c.config.Healthcheck)?.Interval ?? 30e9) / 1e6 || 30_000;
    const log: Json[] = [];
    if (running && c.startedMs) {
      const probes = Math.min(this.p.healthLog.length || 5, Math.floor((now - c.startedMs) / interval));
      for (let k = probes; k >= 1; k--) {
        const start = now - k * interval;
        const tpl = this.p.healthLog[(probes - k) % Math.max(1, this.p.healthLog.length)] ?? {};
        log.push({ ...tpl, Start: isoTime(start), End: isoTime(start + 62), ExitCode: 0, Output: '' });
      }
    }
    return { Status: !running ? 'unhealthy' : log.length ? 'healthy' : 'starting', FailingStreak: 0, Log: log };
  }

  inspect(c: Container, size: boolean): JsonObject {
    const running = c.status === 'running' || c.status === 'paused' || c.status === 'restarting';
    const now = Date.now();
    const hostsDir = `/var/lib/docker/containers/${c.id}`;
    const state: JsonObject = {
      ...this.p.stateZero,
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
    if (c.health && c.startedMs) state.Health = this.healthJson(c, now);
    const primary = c.endpoints[0];
    const bridge = primary?.network === 'bridge' ? primary : undefined;
    const gateway = bridge?.ip ? (this.lookupNetwork('bridge')?.gateway ?? '') : '';
    const networkSettings: JsonObject = {
      ...this.p.networkSettingsZero,
      SandboxID: c.sandboxId,
      SandboxKey: c.sandboxId ? `/var/run/docker/netns/${c.sandboxId.slice(0, 12)}` : '',
      Ports: c.ports ?? {},
      EndpointID: bridge?.endpointId ?? '',
      Gateway: gateway,
      IPAddress: bridge?.ip ?? '',
      IPPrefixLen: bridge?.ip ? 16 : 0,
      MacAddress: bridge?.mac ?? '',
      Networks: this.networksJson(c, false),
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
      HostConfig: { ...this.p.hostConfigDefaults, ...c.hostConfig },
      GraphDriver: this.p.graphDriver(sha256(`layer:${c.id}`)),
      Mounts: c.mounts.map((m) => ({ ...m }) as unknown as JsonObject),
      Config: { ...this.p.configDefaults, ...c.config },
      NetworkSettings: networkSettings,
    };
    const out: JsonObject = {};
    for (const k of this.p.inspectKeys) if (k in values) out[k] = values[k] as Json;
    if (size) {
      out.SizeRw = c.sizeRw;
      out.SizeRootFs = c.sizeRootFs + c.sizeRw;
    }
    return out;
  }

  info(): string {
    if (!this.infoCache || this.infoCache.gen !== this.gen) {
      const k = this.counts();
      const marker = '\u0000SYSTEMTIME\u0000';
      const info: JsonObject = {
        ID: this.id,
        Containers: k.total,
        ContainersRunning: k.running,
        ContainersPaused: k.paused,
        ContainersStopped: k.stopped,
        Images: k.images,
        Driver: 'overlay2',
        DriverStatus: [
          ['Backing Filesystem', 'extfs'],
          ['Supports d_type', 'true'],
          ['Native Overlay Diff', 'true'],
          ['userxattr', 'false'],
        ],
        Plugins: {
          Volume: ['local'],
          Network: ['bridge', 'host', 'ipvlan', 'macvlan', 'null', 'overlay'],
          Authorization: null,
          Log: ['awslogs', 'fluentd', 'gcplogs', 'gelf', 'journald', 'json-file', 'local', 'logentries', 'splunk', 'syslog'],
        },
        MemoryLimit: true,
        SwapLimit: true,
        KernelMemory: true,
        KernelMemoryTCP: true,
        CpuCfsPeriod: true,
        CpuCfsQuota: true,
        CPUShares: true,
        CPUSet: true,
        PidsLimit: true,
        IPv4Forwarding: true,
        BridgeNfIptables: true,
        BridgeNfIp6tables: true,
        Debug: false,
        NFd: 24 + this.sockets.size,
        OomKillDisable: true,
        NGoroutines: 33 + this.subscribers.size * 2 + this.sockets.size,
        SystemTime: marker,
        LoggingDriver: 'json-file',
        CgroupDriver: 'cgroupfs',
        CgroupVersion: '1',
        NEventsListener: this.subscribers.size,
        KernelVersion: KERNEL,
        OperatingSystem: 'Ubuntu 22.04.3 LTS',
        OSVersion: '22.04',
        OSType: 'linux',
        Architecture: 'x86_64',
        IndexServerAddress: 'https://index.docker.io/v1/',
        RegistryConfig: {
          AllowNondistributableArtifactsCIDRs: [],
          AllowNondistributableArtifactsHostnames: [],
          InsecureRegistryCIDRs: ['127.0.0.0/8'],
          IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } },
          Mirrors: [],
        },
        NCPU: this.cfg.ncpu,
        MemTotal: this.cfg.memTotal,
        GenericResources: null,
        DockerRootDir: '/var/lib/docker',
        HttpProxy: '',
        HttpsProxy: '',
        NoProxy: '',
        Name: this.name,
        Labels: this.cfg.labels,
        ExperimentalBuild: false,
        ServerVersion: this.p.version,
        Runtimes: {
          'io.containerd.runc.v2': { path: 'runc' },
          'io.containerd.runtime.v1.linux': { path: 'runc' },
          runc: { path: 'runc' },
        },
        DefaultRuntime: 'runc',
        Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
        LiveRestoreEnabled: false,
        Isolation: '',
        InitBinary: 'docker-init',
        ContainerdCommit: { ID: '2806fc1057397dbaeefbea0e4e17bddfbd388f38', Expected: '2806fc1057397dbaeefbea0e4e17bddfbd388f38' },
        RuncCommit: { ID: 'v1.1.5-0-gf19387a', Expected: 'v1.1.5-0-gf19387a' },
        InitCommit: { ID: 'de40ad0', Expected: 'de40ad0' },
        SecurityOptions: ['name=apparmor', 'name=seccomp,profile=default'],
        Warnings: null,
      };
      const s = `${JSON.stringify(info)}\n`;
      const at = s.indexOf(JSON.stringify(marker));
      this.infoCache = { gen: this.gen, head: s.slice(0, at), tail: s.slice(at + JSON.stringify(marker).length) };
    }
    return `${this.infoCache.head}"${isoTime(Date.now())}"${this.infoCache.tail}`;
  }

  imageList(q: URLSearchParams): JsonObject[] {
    const f = parseFilters(q.get('filters'));
    checkFilterKeys(f, ['dangling', 'label', 'before', 'since', 'reference']);
    const refs = f.get('reference');
    const out: JsonObject[] = [];
    const used = new Map<string, number>();
    for (const c of this.containers.values()) used.set(c.imageId, (used.get(c.imageId) ?? 0) + 1);
    for (const img of [...this.images].reverse()) {
      if (f.get('dangling')?.includes('true') && img.tags.length) continue;
      if (!labelsMatch(f.get('label'), asStringMap(img.config.Labels))) continue;
      if (refs) {
        const ok = refs.some((r) => {
          const re = globToRegex(r);
          return img.tags.some((t) => re.test(t) || re.test(t.slice(0, t.lastIndexOf(':'))));
        });
        if (!ok) continue;
      }
      const entry: JsonObject = {
        Containers: boolParam(q, 'shared-size') ? (used.get(img.id) ?? 0) : -1,
        Created: img.createdSec,
        Id: img.id,
        Labels: asObject(img.config.Labels) ?? null,
        ParentId: '',
        RepoDigests: img.digests,
        RepoTags: img.tags,
        SharedSize: -1,
        Size: img.size,
        VirtualSize: img.size,
      };
      // The fields of the profile's engine only (API 1.44 dropped VirtualSize).
      const shown: JsonObject = {};
      for (const k of this.p.imageSummaryKeys) if (k in entry) shown[k] = entry[k] as Json;
      out.push(shown);
    }
    return out;
  }

  imageInspect(img: Image): JsonObject {
    const cfg: JsonObject = {
      Hostname: '',
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: null,
      Cmd: null,
      Image: `sha256:${sha256(`parent:${img.id}`)}`,
      Volumes: null,
      WorkingDir: '',
      Entrypoint: null,
      OnBuild: null,
      Labels: null,
      ...img.config,
    };
    const full: JsonObject = {
      Id: img.id,
      RepoTags: img.tags,
      RepoDigests: img.digests,
      Parent: '',
      Comment: '',
      Created: img.created,
      Container: sha256(`container:${img.id}`),
      ContainerConfig: { ...cfg, Cmd: ['/bin/sh', '-c', `#(nop) CMD ${JSON.stringify(img.config.Cmd ?? [])}`] },
      DockerVersion: '20.10.23',
      Author: '',
      Config: cfg,
      Architecture: 'amd64',
      Os: 'linux',
      Size: img.size,
      VirtualSize: img.size,
      GraphDriver: {
        Data: { MergedDir: `/var/lib/docker/overlay2/${img.id.slice(7)}/merged`, UpperDir: `/var/lib/docker/overlay2/${img.id.slice(7)}/diff`, WorkDir: `/var/lib/docker/overlay2/${img.id.slice(7)}/work` },
        Name: 'overlay2',
      },
      RootFS: { Type: 'layers', Layers: img.layers },
      Metadata: { LastTagTime: ZERO_TIME },
    };
    const out: JsonObject = {};
    for (const k of Object.keys(this.p.imageInspect)) if (k in full) out[k] = full[k] as Json;
    return out;
  }

  networkJson(n: Network, withContainers: boolean): JsonObject {
    const containers: JsonObject = {};
    if (withContainers) {
      for (const c of this.containers.values()) {
        const ep = c.endpoints.find((x) => x.network === n.name);
        if (!ep?.endpointId) continue;
        containers[c.id] = { Name: c.name, EndpointID: ep.endpointId, MacAddress: ep.mac, IPv4Address: ep.ip ? `${ep.ip}/16` : '', IPv6Address: '' };
      }
    }
    return {
      Name: n.name,
      Id: n.id,
      Created: n.created,
      Scope: n.scope,
      Driver: n.driver,
      EnableIPv6: false,
      IPAM: { Driver: 'default', Options: null, Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [] },
      Internal: n.internal,
      Attachable: n.attachable,
      Ingress: false,
      ConfigFrom: { Network: '' },
      ConfigOnly: false,
      Containers: containers,
      Options: n.options,
      Labels: n.labels,
    };
  }

  networkList(q: URLSearchParams): JsonObject[] {
    const f = parseFilters(q.get('filters'));
    checkFilterKeys(f, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    return this.networks
      .filter((n) => {
        if (f.get('name') && !f.get('name')?.some((x) => n.name.includes(x))) return false;
        if (f.get('id') && !f.get('id')?.some((x) => n.id.startsWith(x))) return false;
        if (f.get('driver') && !f.get('driver')?.includes(n.driver)) return false;
        if (f.get('scope') && !f.get('scope')?.includes(n.scope)) return false;
        if (f.get('type') && !f.get('type')?.includes(n.builtin ? 'builtin' : 'custom')) return false;
        if (!labelsMatch(f.get('label'), n.labels)) return false;
        return true;
      })
      .map((n) => this.networkJson(n, false));
  }

  createNetwork(body: JsonObject): JsonObject {
    const name = typeof body.Name === 'string' ? body.Name : '';
    if (!name) throw new ApiError(400, 'network name is required');
    if (['bridge', 'host', 'none', 'default'].includes(name)) throw new ApiError(403, `${name} is a pre-defined network and cannot be created`);
    if (this.networks.some((n) => n.name === name)) throw new ApiError(409, `network with name ${name} already exists`);
    const driver = typeof body.Driver === 'string' && body.Driver ? body.Driver : 'bridge';
    if (!['bridge', 'overlay', 'macvlan', 'ipvlan'].includes(driver)) throw new ApiError(404, `plugin "${driver}" not found`);
    const used = new Set(this.networks.map((n) => n.octet));
    let octet = 18;
    while (used.has(octet) && octet < 31) octet++;
    if (used.has(octet)) throw new ApiError(403, 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    const n: Network = {
      id: this.cfg.rng.hex(64),
      name,
      driver,
      scope: driver === 'overlay' ? 'global' : 'local',
      created: isoTime(Date.now()),
      subnet: `172.${octet}.0.0/16`,
      gateway: `172.${octet}.0.1`,
      options: asStringMap(body.Options),
      builtin: false,
      octet,
      labels: asStringMap(body.Labels),
      internal: body.Internal === true,
      attachable: body.Attachable === true,
      usedIps: new Set(),
      nextIp: 2,
    };
    this.networks.push(n);
    this.changed();
    this.emit('network', 'create', n.id, { name: n.name, type: n.driver });
    return { Id: n.id, Warning: '' };
  }

  removeNetwork(ref: string): void {
    const n = this.lookupNetworkOrThrow(ref);
    if (n.builtin) throw new ApiError(403, `${n.name} is a pre-defined network and cannot be removed`);
    for (const c of this.containers.values()) {
      if (c.endpoints.some((ep) => ep.network === n.name && ep.endpointId)) throw new ApiError(403, `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    }
    this.networks.splice(this.networks.indexOf(n), 1);
    this.changed();
    this.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  createVolume(body: JsonObject): JsonObject {
    const name = typeof body.Name === 'string' && body.Name ? body.Name : this.cfg.rng.hex(64);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
      throw new ApiError(400, `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
    }
    const driver = typeof body.Driver === 'string' && body.Driver ? body.Driver : 'local';
    if (driver !== 'local') throw new ApiError(404, `error looking up volume plugin ${driver}: plugin "${driver}" not found`);
    let v = this.volumes.get(name);
    if (!v) {
      v = { name, created: isoTime(Date.now()), labels: asStringMap(body.Labels), anonymous: !(typeof body.Name === 'string' && body.Name) };
      this.volumes.set(name, v);
      this.changed();
      this.emit('volume', 'create', name, { driver: 'local' });
    }
    return this.volumeJson(v);
  }

  removeVolume(name: string): void {
    if (!this.volumes.has(name)) throw new ApiError(404, `get ${name}: no such volume`);
    const users = [...this.containers.values()].filter((c) => c.mounts.some((m) => m.Name === name)).map((c) => c.id);
    if (users.length) throw new ApiError(409, `remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.volumes.delete(name);
    this.changed();
    this.emit('volume', 'destroy', name, { driver: 'local' });
  }

  pruneContainers(q: URLSearchParams): JsonObject {
    const f = parseFilters(q.get('filters'));
    checkFilterKeys(f, ['label', 'label!', 'until']);
    const deleted: string[] = [];
    let space = 0;
    for (const c of [...this.containers.values()]) {
      if (c.status === 'running' || c.status === 'paused' || c.status === 'restarting') continue;
      if (!labelsMatch(f.get('label'), c.labels)) continue;
      this.remove(c, false, false);
      deleted.push(c.id);
      space += c.sizeRw;
    }
    this.emit('container', 'prune', '', { reclaimed: String(space) });
    return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: space };
  }

  top(c: Container): JsonObject {
    if (c.status !== 'running' && c.status !== 'paused' && c.status !== 'restarting') {
      throw new ApiError(409, `Container ${c.id} is not running`);
    }
    const started = new Date(c.startedMs);
    const stime = `${String(started.getUTCHours()).padStart(2, '0')}:${String(started.getUTCMinutes()).padStart(2, '0')}`;
    return {
      Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      Processes: [['root', String(c.pid), String(c.pid - 20), '0', stime, '?', '00:00:00', [c.path, ...c.args].join(' ')]],
    };
  }

  lookupNetworkOrThrow(ref: string): Network {
    const n = this.lookupNetwork(ref);
    if (!n) throw new ApiError(404, `network ${ref} not found`);
    return n;
  }

  volumeJson(v: Volume): JsonObject {
    return {
      CreatedAt: v.created.replace(/\.\d+Z$/, 'Z'),
      Driver: 'local',
      Labels: Object.keys(v.labels).length ? v.labels : null,
      Mountpoint: `/var/lib/docker/volumes/${v.name}/_data`,
      Name: v.name,
      Options: null,
      Scope: 'local',
    };
  }

  volumeList(q: URLSearchParams): JsonObject {
    const f = parseFilters(q.get('filters'));
    checkFilterKeys(f, ['dangling', 'driver', 'label', 'name']);
    const inUse = new Set<string>();
    for (const c of this.containers.values()) for (const m of c.mounts) if (m.Name) inUse.add(m.Name);
    const vols = [...this.volumes.values()].filter((v) => {
      const d = f.get('dangling');
      if (d && d.includes('true') !== !inUse.has(v.name)) return false;
      if (f.get('name') && !f.get('name')?.some((x) => v.name.includes(x))) return false;
      if (f.get('driver') && !f.get('driver')?.includes('local')) return false;
      return labelsMatch(f.get('label'), v.labels);
    });
    return { Volumes: vols.map((v) => this.volumeJson(v)), Warnings: null };
  }

  volume(name: string): JsonObject {
    const v = this.volumes.get(name);
    if (!v) throw new ApiError(404, `get ${name}: no such volume`);
    return this.volumeJson(v);
  }

  version(): JsonObject {
    return {
      Platform: { Name: 'Docker Engine - Community' },
      Components: [
        {
          Name: 'Engine',
          Version: this.p.version,
          Details: {
            ApiVersion: this.p.apiVersion,
            Arch: 'amd64',
            BuildTime: 'Tue Apr  4 18:41:24 2023',
            Experimental: 'false',
            GitCommit: this.p.gitCommit,
            GoVersion: this.p.goVersion,
            KernelVersion: KERNEL,
            MinAPIVersion: this.p.minApiVersion,
            Os: 'linux',
          },
        },
        { Name: 'containerd', Version: '1.6.20', Details: { GitCommit: '2806fc1057397dbaeefbea0e4e17bddfbd388f38' } },
        { Name: 'runc', Version: '1.1.5', Details: { GitCommit: 'v1.1.5-0-gf19387a' } },
        { Name: 'docker-init', Version: '0.19.0', Details: { GitCommit: 'de40ad0' } },
      ],
      Version: this.p.version,
      ApiVersion: this.p.apiVersion,
      MinAPIVersion: this.p.minApiVersion,
      GitCommit: this.p.gitCommit,
      GoVersion: this.p.goVersion,
      Os: 'linux',
      Arch: 'amd64',
      KernelVersion: KERNEL,
      BuildTime: BUILD_TIME,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Events

  subscribe(res: ServerResponse, q: URLSearchParams): void {
    const filters = parseFilters(q.get('filters'));
    checkFilterKeys(filters, ['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume']);
    const nowNano = BigInt(Date.now()) * 1_000_000n;
    const sinceNano = parseEventTime(q.get('since'));
    const untilNano = parseEventTime(q.get('until'));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    if (sinceNano !== undefined) {
      for (const ev of this.events) {
        if (ev.timeNano < sinceNano) continue;
        if (untilNano !== undefined && ev.timeNano > untilNano) continue;
        if (eventMatches(ev, filters)) res.write(ev.json);
      }
    }
    if (untilNano !== undefined && untilNano <= nowNano) {
      res.end();
      return;
    }
    const sub: Subscriber = { res, filters, untilNano };
    this.subscribers.add(sub);
    this.changed();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      if (this.subscribers.delete(sub)) this.changed();
    };
    if (untilNano !== undefined) {
      timer = setTimeout(
        () => {
          done();
          res.end();
        },
        Number((untilNano - nowNano) / 1_000_000n),
      );
    }
    res.on('close', done);
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
      server.keepAliveTimeout = 120_000;
      server.on('upgrade', (req: IncomingMessage, socket: Socket) => this.onUpgrade(req, socket));
      server.on('connection', (s: Socket) => {
        this.cfg.shared.connections++;
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      });
      server.once('error', reject);
      server.listen(this.port, this.cfg.host, () => {
        server.off('error', reject);
        const a = server.address();
        if (a && typeof a === 'object') this.port = a.port;
        this.server = server;
        resolve();
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  shutdownTimers(): void {
    for (const c of this.containers.values()) {
      if (c.exitTimer) clearTimeout(c.exitTimer);
      c.exitTimer = undefined;
    }
  }

  /** POST /containers/{id}/attach with "Upgrade: tcp": Docker hijacks the connection for the stream. */
  private onUpgrade(req: IncomingMessage, socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    const path = (qi < 0 ? url : url.slice(0, qi)).replace(/^\/v[0-9.]+\//, '/');
    const q = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
    const fail = (status: number, message: string): void => {
      const body = `${JSON.stringify({ message })}\n`;
      const reason = status === 404 ? 'Not Found' : status === 409 ? 'Conflict' : 'Bad Request';
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nApi-Version: ${this.p.apiVersion}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    const m = /^\/containers\/([^/]+)\/attach$/.exec(path);
    if (!m || req.method !== 'POST') return fail(404, 'page not found');
    let c: Container;
    try {
      c = this.lookup(decodeURIComponent(m[1] as string));
    } catch (e) {
      return fail(e instanceof ApiError ? e.status : 500, e instanceof Error ? e.message : String(e));
    }
    const tty = c.config.Tty === true;
    socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
    if (boolParam(q, 'logs') && boolParam(q, 'stdout')) for (const line of c.logs) socket.write(frame(1, line, tty));
    if (!boolParam(q, 'stream')) {
      socket.end();
      return;
    }
    if (c.status === 'removing' || c.status === 'dead') {
      socket.end();
      return;
    }
    const a: Attacher = { socket, tty, stdout: boolParam(q, 'stdout') };
    let set = this.attachers.get(c.id);
    if (!set) this.attachers.set(c.id, (set = new Set()));
    set.add(a);
    socket.on('close', () => this.attachers.get(c.id)?.delete(a));
    socket.on('data', () => undefined); // stdin goes nowhere
    this.containerEvent(c, 'attach');
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(this.headers)) res.setHeader(k, v);
    const url = req.url ?? '/';
    if (url.startsWith('/_sim/')) return this.simRoute(req, res, url);
    const route = routeOf(req.method ?? 'GET', url);
    this.cfg.shared.calls.set(route, (this.cfg.shared.calls.get(route) ?? 0) + 1);
    const { latencyMs, jitterMs } = this.cfg;
    if (latencyMs > 0 || jitterMs > 0) {
      const delay = Math.max(0, latencyMs + (Math.random() * 2 - 1) * jitterMs);
      setTimeout(() => this.dispatch(req, res), delay);
    } else this.dispatch(req, res);
  }

  /**
   * The simulator's own routes (not counted, not Docker's): `GET /_sim/calls` the Engine API calls
   * every engine of this simulator answered, by route (`DELETE` resets them); `GET /_sim/engines`
   * each engine's capacity and what its containers reserve.
   */
  private simRoute(req: IncomingMessage, res: ServerResponse, url: string): void {
    req.resume();
    const path = url.split('?')[0];
    const { calls, engines } = this.cfg.shared;
    if (path === '/_sim/calls' && req.method === 'DELETE') {
      calls.clear();
      this.cfg.shared.connections = 0;
      return sendEmpty(res, 204);
    }
    if (path === '/_sim/calls' && req.method === 'GET') {
      let total = 0;
      for (const n of calls.values()) total += n;
      return sendJson(res, 200, { total, connections: this.cfg.shared.connections, routes: Object.fromEntries([...calls].sort((a, b) => b[1] - a[1])) });
    }
    if (path === '/_sim/engines' && req.method === 'GET') return sendJson(res, 200, engines.map((e) => e.usage()));
    sendJson(res, 404, { message: 'page not found' });
  }

  /** Capacity and reservations (every container's HostConfig.Memory and CPUs), for overbooking checks. */
  usage(): JsonObject {
    let memory = 0;
    let nanoCpus = 0;
    let running = 0;
    for (const c of this.containers.values()) {
      memory += Number(c.hostConfig.Memory ?? 0) || 0;
      nanoCpus += Number(c.hostConfig.NanoCpus ?? 0) || 0;
      if (c.status === 'running' || c.status === 'paused' || c.status === 'restarting') running++;
    }
    return { name: this.name, addr: this.addr, ncpu: this.cfg.ncpu, memTotal: this.cfg.memTotal, containers: this.containers.size, running, reservedMemory: memory, reservedCpus: nanoCpus / 1e9 };
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    try {
      const r = this.route(req, res);
      if (r instanceof Promise) r.catch((e: unknown) => sendError(res, e));
    } catch (e) {
      sendError(res, e);
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void | Promise<void> {
    const url = req.url ?? '/';
    const qi = url.indexOf('?');
    let path = qi < 0 ? url : url.slice(0, qi);
    const q = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
    let apiVersion = this.p.apiVersion;
    const vm = /^\/v([0-9.]+)(\/.*)$/.exec(path);
    if (vm) {
      apiVersion = vm[1] as string;
      path = vm[2] as string;
      if (versionLess(this.p.apiVersion, apiVersion)) {
        throw new ApiError(400, `client version ${apiVersion} is too new. Maximum supported API version is ${this.p.apiVersion}`);
      }
      if (versionLess(apiVersion, this.p.minApiVersion)) {
        throw new ApiError(
          400,
          `client version ${apiVersion} is too old. Minimum supported API version is ${this.p.minApiVersion}, please upgrade your client to a newer version`,
        );
      }
    }
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const method = req.method ?? 'GET';
    const seg = path.split('/').map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
    const top = seg[1] ?? '';

    if (top === '_ping' && seg.length === 2 && (method === 'GET' || method === 'HEAD')) {
      res.writeHead(200, { 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
      res.end(method === 'HEAD' ? undefined : 'OK');
      return;
    }
    if (method === 'GET' && seg.length === 2) {
      if (top === 'version') return sendJson(res, 200, this.version());
      if (top === 'info') return sendRaw(res, 200, this.info());
      if (top === 'events') return this.subscribe(res, q);
      if (top === 'networks') return sendJson(res, 200, this.networkList(q));
      if (top === 'volumes') return sendJson(res, 200, this.volumeList(q));
    }
    if (top === 'containers') {
      if (seg.length === 3 && method === 'GET' && seg[2] === 'json') return sendRaw(res, 200, this.listContainers(q));
      if (seg.length === 3 && method === 'POST' && seg[2] === 'create') return this.handleCreate(req, res, q);
      if (seg.length === 3 && method === 'POST' && seg[2] === 'prune') {
        req.resume();
        return sendJson(res, 200, this.pruneContainers(q));
      }
      if (seg.length === 3 && method === 'DELETE') {
        req.resume();
        const c = this.lookup(seg[2] as string);
        this.remove(c, boolParam(q, 'force'), boolParam(q, 'v'));
        return sendEmpty(res, 204);
      }
      if (seg.length === 4) {
        const action = seg[3];
        if (method === 'GET' && action === 'json') {
          const c = this.lookup(seg[2] as string);
          return sendJson(res, 200, this.inspect(c, boolParam(q, 'size')));
        }
        if (method === 'GET' && action === 'logs') return this.handleLogs(this.lookup(seg[2] as string), res, q);
        if (method === 'GET' && action === 'top') return sendJson(res, 200, this.top(this.lookup(seg[2] as string)));
        if (method === 'POST') {
          req.resume();
          const c = this.lookup(seg[2] as string);
          switch (action) {
            case 'start':
              return sendEmpty(res, this.start(c) ? 204 : 304);
            case 'stop':
              return sendEmpty(res, this.stop(c, q.get('signal')) ? 204 : 304);
            case 'kill':
              this.kill(c, q.get('signal'));
              return sendEmpty(res, 204);
            case 'restart':
              this.restart(c);
              return sendEmpty(res, 204);
            case 'pause':
              this.pause(c);
              return sendEmpty(res, 204);
            case 'unpause':
              this.unpause(c);
              return sendEmpty(res, 204);
            case 'rename':
              this.rename(c, q.get('name'));
              return sendEmpty(res, 204);
            case 'wait':
              return this.handleWait(c, res, q, apiVersion);
            default:
              break;
          }
        }
      }
    }
    if (top === 'images') {
      if (method === 'GET' && seg.length === 3 && seg[2] === 'json') return sendJson(res, 200, this.imageList(q));
      if (method === 'GET' && seg.length >= 4 && seg[seg.length - 1] === 'json') {
        const ref = seg.slice(2, -1).join('/');
        const img = this.lookupImage(ref);
        if (!img) throw this.imageNotFound(ref);
        return sendJson(res, 200, this.imageInspect(img));
      }
      if (method === 'POST' && seg.length === 3 && seg[2] === 'create') return this.handlePull(req, res, q);
      if (method === 'DELETE' && seg.length >= 3) return sendJson(res, 200, this.removeImage(seg.slice(2).join('/'), boolParam(q, 'force')));
    }
    if (top === 'networks' && seg.length === 3) {
      if (method === 'POST' && seg[2] === 'create') return readJson(req).then((b) => sendJson(res, 201, this.createNetwork(b)));
      if (method === 'GET') return sendJson(res, 200, this.networkJson(this.lookupNetworkOrThrow(seg[2] as string), true));
      if (method === 'DELETE') {
        req.resume();
        this.removeNetwork(seg[2] as string);
        return sendEmpty(res, 204);
      }
    }
    if (top === 'volumes' && seg.length === 3) {
      if (method === 'POST' && seg[2] === 'create') return readJson(req).then((b) => sendJson(res, 201, this.createVolume(b)));
      if (method === 'GET') return sendJson(res, 200, this.volume(seg[2] as string));
      if (method === 'DELETE') {
        req.resume();
        this.removeVolume(seg[2] as string);
        return sendEmpty(res, 204);
      }
    }
    req.resume();
    throw new ApiError(404, 'page not found');
  }

  private async handleCreate(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): Promise<void> {
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text.trim() ? JSON.parse(text) : {};
    } catch (e) {
      throw new ApiError(400, `invalid character in JSON body: ${(e as Error).message}`);
    }
    const o = asObject(body);
    if (!o) throw new ApiError(400, 'config cannot be empty in order to create a container');
    const c = this.create(q.get('name'), o);
    sendJson(res, 201, { Id: c.id, Warnings: [] });
  }

  private handleWait(c: Container, res: ServerResponse, q: URLSearchParams, apiVersion: string): void {
    const raw = q.get('condition') ?? '';
    if (raw !== '' && raw !== 'not-running' && raw !== 'next-exit' && raw !== 'removed') {
      throw new ApiError(400, `invalid condition: "${raw}"`);
    }
    const legacy = versionLess(apiVersion, '1.30');
    const condition: WaitCondition = legacy || raw === '' ? 'not-running' : raw;
    const running = c.status === 'running' || c.status === 'paused' || c.status === 'restarting';
    const reply = (code: number): void => {
      const body = `${JSON.stringify({ Error: null, StatusCode: code })}\n`;
      if (res.headersSent) res.end(body);
      else sendRaw(res, 200, body);
    };
    if (condition === 'not-running' && !running) return reply(c.exitCode);
    if (!legacy) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
    }
    const w: Waiter = { condition, done: reply };
    c.waiters.push(w);
    res.on('close', () => {
      const i = c.waiters.indexOf(w);
      if (i >= 0) c.waiters.splice(i, 1);
    });
  }

  /** What the process printed (echo only); held open with follow=1 until the container stops. */
  private handleLogs(c: Container, res: ServerResponse, q: URLSearchParams): void {
    if (!boolParam(q, 'stdout') && !boolParam(q, 'stderr')) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
    const tty = c.config.Tty === true;
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
    if (boolParam(q, 'stdout')) for (const line of c.logs) res.write(frame(1, line, tty));
    const running = c.status === 'running' || c.status === 'paused' || c.status === 'restarting';
    if (!boolParam(q, 'follow') || !running) {
      res.end();
      return;
    }
    res.flushHeaders();
    const w: Waiter = { condition: 'next-exit', done: () => res.end() };
    c.waiters.push(w);
    res.on('close', () => {
      const i = c.waiters.indexOf(w);
      if (i >= 0) c.waiters.splice(i, 1);
    });
  }

  removeImage(ref: string, force: boolean): JsonObject[] {
    const img = this.lookupImage(ref);
    if (!img) throw this.imageNotFound(ref);
    const short = img.id.slice(7, 19);
    const byTag = !ref.includes('@') && img.tags.includes(normalizeImageRef(ref));
    if (byTag && img.tags.length > 1) {
      const tag = normalizeImageRef(ref);
      img.tags = img.tags.filter((t) => t !== tag);
      this.changed();
      this.emit('image', 'untag', img.id, { name: img.id });
      return [{ Untagged: tag }];
    }
    for (const c of this.containers.values()) {
      if (c.imageId !== img.id) continue;
      const running = c.status === 'running' || c.status === 'paused' || c.status === 'restarting';
      if (running) throw new ApiError(409, `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${c.id.slice(0, 12)}`);
      if (!force) {
        throw new ApiError(
          409,
          byTag
            ? `conflict: unable to remove repository reference "${ref}" (must force) - container ${c.id.slice(0, 12)} is using its referenced image ${short}`
            : `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${c.id.slice(0, 12)}`,
        );
      }
    }
    this.images.splice(this.images.indexOf(img), 1);
    this.changed();
    const out: JsonObject[] = [];
    for (const t of img.tags) {
      out.push({ Untagged: t });
      this.emit('image', 'untag', img.id, { name: img.id });
    }
    for (const d of img.digests) out.push({ Untagged: d });
    out.push({ Deleted: img.id });
    for (const l of img.layers) out.push({ Deleted: l });
    this.emit('image', 'delete', img.id, { name: img.id });
    return out;
  }

  private handlePull(req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
    req.resume();
    const from = q.get('fromImage') ?? '';
    if (!from) throw new ApiError(400, 'only pulling by image name (fromImage) is supported by the simulator');
    const tagParam = q.get('tag') ?? '';
    let ref = from;
    if (tagParam) ref = tagParam.startsWith('sha256:') ? `${from}@${tagParam}` : `${from}:${tagParam}`;
    if (!validReference(ref)) throw new ApiError(400, `invalid reference format${/[A-Z]/.test(ref) ? ': repository name must be lowercase' : ''}`);
    const { image, fresh } = this.pull(ref);
    const tag = normalizeImageRef(ref);
    const repo = tag.slice(0, tag.lastIndexOf(':'));
    const lines: JsonObject[] = [];
    if (fresh) {
      lines.push({ status: `Pulling from ${repo.includes('/') ? repo : `library/${repo}`}`, id: tag.slice(tag.lastIndexOf(':') + 1) });
      const layer = (image.layers[0] ?? '').slice(7, 19);
      lines.push({ status: 'Pulling fs layer', progressDetail: {}, id: layer });
      lines.push({ status: 'Downloading', progressDetail: { current: image.size, total: image.size }, progress: '', id: layer });
      lines.push({ status: 'Download complete', progressDetail: {}, id: layer });
      lines.push({ status: 'Pull complete', progressDetail: {}, id: layer });
      lines.push({ status: `Digest: ${(image.digests[0] ?? '').split('@')[1] ?? ''}` });
      lines.push({ status: `Status: Downloaded newer image for ${tag}` });
    } else {
      lines.push({ status: `Pulling from ${repo.includes('/') ? repo : `library/${repo}`}`, id: tag.slice(tag.lastIndexOf(':') + 1) });
      lines.push({ status: `Digest: ${(image.digests[0] ?? '').split('@')[1] ?? ''}` });
      lines.push({ status: `Status: Image is up to date for ${tag}` });
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(lines.map((l) => `${JSON.stringify(l)}\r\n`).join(''));
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

/** What the daemon fills in for zero values the client sends (daemon.adaptContainerSettings and friends). */
function applyHostConfigDefaults(hc: JsonObject, profile: EngineProfile): JsonObject {
  const out: JsonObject = { ...hc };
  const log = asObject(out.LogConfig);
  if (!log || !log.Type) out.LogConfig = { Type: 'json-file', Config: asObject(log?.Config) ?? {} };
  if (!out.NetworkMode) out.NetworkMode = 'default';
  if (!out.ShmSize) out.ShmSize = 67_108_864;
  if (!out.IpcMode) out.IpcMode = 'private';
  if (!out.CgroupnsMode) out.CgroupnsMode = 'host';
  if (!out.Runtime) out.Runtime = 'runc';
  if (out.MemorySwappiness === -1) out.MemorySwappiness = null;
  if (out.PidsLimit === 0) out.PidsLimit = null;
  if (typeof out.Memory === 'number' && out.Memory > 0 && !out.MemorySwap) out.MemorySwap = out.Memory * 2;
  if (out.Privileged !== true) {
    if (!Array.isArray(out.MaskedPaths)) out.MaskedPaths = profile.hostConfigDefaults.MaskedPaths ?? null;
    if (!Array.isArray(out.ReadonlyPaths)) out.ReadonlyPaths = profile.hostConfigDefaults.ReadonlyPaths ?? null;
  }
  const rp = asObject(out.RestartPolicy);
  if (!rp || !rp.Name) out.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  return out;
}

function sendRaw(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: Json): void {
  sendRaw(res, status, `${JSON.stringify(body)}\n`);
}

function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

function sendError(res: ServerResponse, e: unknown): void {
  const status = e instanceof ApiError ? e.status : 500;
  const message = e instanceof Error ? e.message : String(e);
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, status, { message });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<JsonObject> {
  const text = await readBody(req);
  let body: unknown;
  try {
    body = text.trim() ? JSON.parse(text) : {};
  } catch (e) {
    throw new ApiError(400, `invalid JSON: ${(e as Error).message}`);
  }
  const o = asObject(body);
  if (!o) throw new ApiError(400, 'invalid JSON: expected an object');
  return o;
}

/** Docker's stdcopy framing for non-TTY streams: [stream, 0, 0, 0, size (big-endian u32)] + payload. */
function frame(stream: 1 | 2, text: string, tty: boolean): Buffer {
  const payload = Buffer.from(text, 'utf8');
  if (tty) return payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function parseSignal(s: string): number | undefined {
  const t = s.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  return SIGNALS[t.startsWith('SIG') ? t.slice(3) : t];
}

/** Unix seconds ("1700000000", "1700000000.123456789") or RFC 3339. */
function parseEventTime(v: string | null): bigint | undefined {
  if (!v) return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1] as string) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new ApiError(400, `invalid timestamp: ${v}`);
  return BigInt(ms) * 1_000_000n;
}

function eventMatches(ev: SimEvent, f: Map<string, string[]>): boolean {
  if (f.size === 0) return true;
  const types = f.get('type');
  if (types && !types.includes(ev.type)) return false;
  const actions = f.get('event');
  if (actions && !actions.some((a) => a === ev.action || ev.action.startsWith(`${a}:`))) return false;
  const containers = f.get('container');
  if (containers) {
    if (ev.type !== 'container') return false;
    if (!containers.some((c) => c === ev.actorId || c === ev.attrs.name || ev.actorId.startsWith(c))) return false;
  }
  const images = f.get('image');
  if (images) {
    const img = ev.type === 'image' ? ev.actorId : (ev.attrs.image ?? '');
    if (!images.some((i) => i === img || normalizeImageRef(i) === normalizeImageRef(img))) return false;
  }
  const networks = f.get('network');
  if (networks && (ev.type !== 'network' || !networks.some((n) => n === ev.actorId || n === ev.attrs.name))) return false;
  const volumes = f.get('volume');
  if (volumes && (ev.type !== 'volume' || !volumes.includes(ev.actorId))) return false;
  if (!labelsMatch(f.get('label'), ev.attrs)) return false;
  const scope = f.get('scope');
  if (scope && !scope.includes('local')) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Simulator

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const nodes = opts.nodes ?? 10;
  const perEngine = opts.containers ?? 30;
  const basePort = opts.basePort ?? 0;
  const host = opts.host ?? '127.0.0.1';
  const latencyMs = opts.latencyMs ?? 0;
  const jitterMs = opts.jitterMs ?? latencyMs / 10;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const prefix = opts.namePrefix ?? 'sim-';
  const engines: Engine[] = [];
  const shared: Shared = { engines, calls: new Map(), connections: 0 };
  const profile = loadProfile(opts.engine ?? '20.10');
  const workload = opts.workload ?? 'basic';
  for (let i = 0; i < nodes; i++) {
    const labels = [
      ...(opts.labelsFor ? opts.labelsFor(i) : [`sim.index=${i}`, `zone=zone-${i % 4}`, `storage=${i % 2 === 0 ? 'ssd' : 'disk'}`]),
      ...(opts.labels ?? []),
    ];
    const e = new Engine({
      index: i,
      name: `${prefix}${i}`,
      host,
      port: basePort ? basePort + i : 0,
      labels,
      ncpu: opts.ncpu ?? 4,
      memTotal: opts.memTotal ?? DEFAULT_MEM,
      latencyMs,
      jitterMs,
      autoExit: opts.autoExit ?? true,
      rng: new Rng((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0),
      profile,
      workload,
      shared,
    });
    e.populate(perEngine);
    engines.push(e);
  }
  // Listen in batches so a huge --nodes does not open thousands of pending binds at once.
  const batch = 256;
  try {
    for (let i = 0; i < engines.length; i += batch) await Promise.all(engines.slice(i, i + batch).map((e) => e.listen()));
  } catch (err) {
    await Promise.all(engines.map((e) => e.close()));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EMFILE') throw new Error(`too many open files: raise the limit (ulimit -n ${nodes * 4 + 256}) or use fewer --nodes`);
    throw err;
  }
  const info = (e: Engine): SimEngineInfo => ({ addr: e.addr, id: e.id, name: e.name, port: e.port });
  const get = (i: number): Engine => {
    const e = engines[i];
    if (!e) throw new RangeError(`no engine ${i}`);
    return e;
  };
  return {
    engines: engines.map(info),
    async close() {
      for (const e of engines) e.shutdownTimers();
      await Promise.all(engines.map((e) => e.close()));
    },
    async stopEngine(i) {
      await get(i).close();
    },
    async startEngine(i) {
      const e = get(i);
      if (!e.server) await e.listen();
    },
    counts(i) {
      const k = get(i).counts();
      return { total: k.total, running: k.running + k.paused, images: k.images };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Command line

const USAGE = `Usage: bun bench/engine-sim.ts [options]

Serves many simulated Docker engines (Engine API 1.41, "20.10.24-sim", or with --engine 26
API 1.45, "26.1.5-sim") from one process, one TCP port per engine: engine i listens on
<host>:<base-port + i>. Objects have the shape and size of the real engine's (bench/payloads).

Options:
  --nodes N          engines to simulate (default 10)
  --containers N     containers pre-populated per engine, mixed running/exited (default 30)
  --base-port P      first port (default 20000; 0 = ephemeral ports)
  --host H           listen address (default 127.0.0.1)
  --latency-ms MS    added to every API call (default 0)
  --jitter-ms MS     +/- uniform jitter around the latency (default latency/10)
  --label K=V        engine label, repeatable (added to sim.index, zone, storage)
  --ncpu N           CPUs per engine (default 4)
  --memory BYTES     memory per engine, e.g. 8g, 512m (default 7.67 GiB)
  --seed N           PRNG seed for IDs, names and the container mix
  --no-auto-exit     containers never exit on their own (sleep N, true, sh ...)
  --engine KIND      20.10 (default) or 26: the version, API and payloads served
  --workload W       basic (default: plain containers on the bridge) or compose (compose
                     projects: labels, two networks, volumes, a bind mount, healthchecks)
  --addrs-file F     write one host:port per line (usable as a file:// discovery file)
  -h, --help         this text

Each engine holds one listening socket plus its clients' connections: for N engines allow at
least N*4 open files, e.g. "ulimit -n ${1000 * 4 + 256}" for 1,000 engines (check with "ulimit -n").

Example, then talk to engine 0 with the real CLI:
  bun bench/engine-sim.ts --nodes 1000 --containers 30 --base-port 20000
  docker -H tcp://127.0.0.1:20000 ps -a
`;

function parseBytes(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(s.trim());
  if (!m) throw new Error(`invalid size: ${s}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.floor(Number(m[1]) * mult);
}

function openFileLimit(): number | undefined {
  try {
    const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
    const n = Number.parseInt(r.stdout.trim(), 10);
    return Number.isFinite(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<void> {
  const opts: SimulatorOptions = { nodes: 10, containers: 30, basePort: 20000 };
  let addrsFile: string | undefined;
  const labels: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = a.startsWith('--') && eq > 0 ? a.slice(eq + 1) : undefined;
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    const num = (): number => {
      const v = val();
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${flag}: not a number: ${v}`);
      return n;
    };
    switch (flag) {
      case '--nodes':
        opts.nodes = Math.floor(num());
        break;
      case '--containers':
        opts.containers = Math.floor(num());
        break;
      case '--base-port':
        opts.basePort = Math.floor(num());
        break;
      case '--host':
        opts.host = val();
        break;
      case '--latency-ms':
        opts.latencyMs = num();
        break;
      case '--jitter-ms':
        opts.jitterMs = num();
        break;
      case '--label':
        labels.push(val());
        break;
      case '--ncpu':
        opts.ncpu = Math.floor(num());
        break;
      case '--memory':
        opts.memTotal = parseBytes(val());
        break;
      case '--seed':
        opts.seed = Math.floor(num());
        break;
      case '--no-auto-exit':
        opts.autoExit = false;
        break;
      case '--addrs-file':
        addrsFile = val();
        break;
      case '--engine': {
        const v = val();
        if (v !== '20.10' && v !== '26') throw new Error(`--engine: 20.10 or 26, not ${v}`);
        opts.engine = v;
        break;
      }
      case '--workload': {
        const v = val();
        if (v !== 'basic' && v !== 'compose') throw new Error(`--workload: basic or compose, not ${v}`);
        opts.workload = v;
        break;
      }
      case '-h':
      case '--help':
        process.stdout.write(USAGE);
        return;
      default:
        throw new Error(`unknown option: ${a}\n\n${USAGE}`);
    }
  }
  if (labels.length) opts.labels = labels;
  const nodes = opts.nodes ?? 10;
  if (opts.basePort && opts.basePort + nodes - 1 > 65535) throw new Error(`--base-port ${opts.basePort} + ${nodes} engines runs past port 65535`);
  const limit = openFileLimit();
  if (limit !== undefined && limit < nodes * 4 + 64) {
    process.stderr.write(`warning: open file limit is ${limit}; ${nodes} engines want about ${nodes * 4 + 256} (ulimit -n ${nodes * 4 + 256})\n`);
  }
  const t0 = performance.now();
  const sim = await startSimulator(opts);
  const ms = performance.now() - t0;
  const first = sim.engines[0];
  const last = sim.engines[sim.engines.length - 1];
  const rss = process.memoryUsage().rss;
  process.stdout.write(
    `engine-sim: ${sim.engines.length} engines x ${opts.containers ?? 30} containers up in ${ms.toFixed(0)} ms, rss ${(rss / 1048576).toFixed(0)} MiB\n`,
  );
  if (first && last) {
    const host = opts.host ?? '127.0.0.1';
    const contiguous = sim.engines.every((e, i) => e.port === first.port + i);
    process.stdout.write(
      contiguous && sim.engines.length > 1
        ? `engines: ${host}:[${first.port}:${last.port}]  (${first.name} .. ${last.name})\n`
        : `engines: ${sim.engines.map((e) => e.addr).join(' ')}\n`,
    );
    process.stdout.write(`try: docker -H tcp://${first.addr} ps -a\n`);
  }
  if (addrsFile) writeFileSync(addrsFile, sim.engines.map((e) => `${e.addr}\n`).join(''));
  let closing = false;
  const stop = (sig: string): void => {
    if (closing) return;
    closing = true;
    process.stdout.write(`engine-sim: ${sig}, closing\n`);
    void sim.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`engine-sim: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
