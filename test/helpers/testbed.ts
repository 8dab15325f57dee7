/**
 * Bun helpers around scripts/testbed.sh: real Docker engines on this machine, each in its own
 * network namespace, reachable from here at 10.99.0.(10+i):2375. Needs root.
 *
 *   const hosts = await testbedUp(3, { labels: { 1: { environment: 'production' } }, registry: true });
 *   const r = await dockerCli(hosts[0]!.addr, ['run', '--rm', 'busybox', 'echo', 'hi']);
 *   await testbedDown();
 *
 * Engines are dockerd 20.10 (API 1.41) unless `engines` asks for dockerd 26 (API 1.45) on some hosts;
 * `{ engines: { 2: '26' }, minApi: { 2: '1.44' } }` makes host 2 refuse clients below API 1.44, as
 * Docker Engine 29 does. `clusterKindFromEnv()` picks these from SWARM_TEST_CLUSTER.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dir, '../..');
export const TESTBED_SCRIPT = join(REPO, 'scripts/testbed.sh');

/** The registry `testbedUp(n, { registry: true })` starts. */
/** TESTBED_ID (1-9) selects an independent testbed on subnet 10.99.ID.0/24; unset, the default one. */
export const TESTBED_ID = process.env.TESTBED_ID ?? '';
export const TESTBED_REGISTRY = `10.99.${TESTBED_ID || '0'}.1:5000`;

export interface TestbedHost {
  /** 1-based host number, the I of kill-engine I */
  index: number;
  /** engine name (its hostname): node-1, node-2, ... */
  name: string;
  ip: string;
  /** 2375, or 2376 for a host given --tls/--tlsverify dockerd args (it then serves only TLS) */
  port: number;
  /** ip:port */
  addr: string;
  storageDriver: string;
  /** dockerd 20.10 (API 1.41) or dockerd 26.1 (API 1.45, its own containerd 1.7) */
  engine: EngineKind;
}

/** The engine kinds scripts/testbed.sh can start (`up --engine I:KIND`). */
export type EngineKind = '20.10' | '26';

/** Per-host values keyed by host number (1-based), or `all` for every host. */
export type PerHost<T> = { [host: number]: T; all?: T };

export interface TestbedOptions {
  /** Storage driver per host, in host order (default overlay2, btrfs, vfs; overlay2 past the list). */
  storage?: string[];
  /** Engine labels (dockerd --label) per host. */
  labels?: PerHost<Record<string, string>>;
  /** Extra dockerd arguments per host. */
  dockerdArgs?: PerHost<string[]>;
  /** Engine kind per host (default 20.10). */
  engines?: PerHost<EngineKind>;
  /** Raised minimum API version per host (DOCKER_MIN_API_VERSION, e.g. '1.44'); engine kind 26 only. */
  minApi?: PerHost<string>;
  /** Run the registry at 10.99.0.1:5000 with busybox pushed as 10.99.0.1:5000/busybox. */
  registry?: boolean;
  /** Load busybox:latest into every engine (default true). */
  image?: boolean;
  /** Bound for the engines to answer, in seconds (the script's default is 120). */
  timeoutSec?: number;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** killed by the hard timeout */
  timedOut: boolean;
}

export interface CliOptions {
  stdin?: string | Uint8Array;
  /** hard timeout (SIGKILL), default 60 s */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** DOCKER_CONFIG for the docker CLI: a directory, or true for privateDockerConfig() (dockerCli only) */
  dockerConfig?: string | true;
}

/** The testbed's state dir ($TESTBED_DIR or <repo>/.testbed). */
export function testbedDir(): string {
  return process.env.TESTBED_DIR ?? join(REPO, `.testbed${TESTBED_ID}`);
}

/** Whether this process may run the testbed (it needs root). */
export function testbedAvailable(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Environment for child processes: no DOCKER_* settings that would change where or how the CLI connects. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (k === 'DOCKER_HOST' || k === 'DOCKER_CONTEXT' || k === 'DOCKER_TLS_VERIFY' || k === 'DOCKER_CERT_PATH') continue;
    env[k] = v;
  }
  env.DOCKER_CLI_HINTS = 'false';
  return { ...env, ...extra };
}

/** Runs argv under `timeout -s KILL`, collecting its output. */
export async function run(argv: string[], opts: CliOptions = {}): Promise<CliResult> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const stdin = typeof opts.stdin === 'string' ? new TextEncoder().encode(opts.stdin) : opts.stdin;
  const proc = Bun.spawn(['timeout', '-s', 'KILL', String(seconds), ...argv], {
    env: childEnv(opts.env),
    stdin: stdin ?? 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  // timeout(1) sends SIGKILL to its whole process group, itself included.
  const timedOut = code === 137 || proc.signalCode === 'SIGKILL';
  return { code, stdout, stderr, timedOut };
}

/** `docker -H tcp://<hostAddr> ...args` with the real docker CLI and a hard timeout. */
export function dockerCli(hostAddr: string, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const host = hostAddr.includes('://') ? hostAddr : `tcp://${hostAddr}`;
  const { dockerConfig, ...rest } = opts;
  if (dockerConfig !== undefined) {
    rest.env = { ...rest.env, DOCKER_CONFIG: dockerConfig === true ? privateDockerConfig() : dockerConfig };
  }
  return run(['docker', '-H', host, ...args], rest);
}

/**
 * `docker info` through a manager, asked until it lists `nodes` Healthy nodes: its text then, or an
 * error after `timeoutMs`.
 */
export async function waitForHealthyNodes(manager: string, nodes: number, opts: CliOptions = {}, timeoutMs = 60_000, everyMs = 300): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await dockerCli(manager, ['info'], { timeoutMs: 20_000, ...opts });
    last = r.stdout;
    if (last.match(/Status: Healthy/g)?.length === nodes) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${nodes} healthy nodes; docker info said:\n${last}${r.stderr}`);
    await Bun.sleep(everyMs);
  }
}

/** Where scripts/install.sh unpacks dockerd 26 and the docker CLI plugins. */
export const TODAY_DOCKER_DIR = process.env.TODAY_DOCKER_DIR ?? '/opt/swarm-test/docker-26';

let dockerConfigDir: string | undefined;

const DOCKER_CONFIG_PREFIX = 'swarm-docker-config-';

/** Whether process pid still exists (EPERM: it does, but is not ours). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A DOCKER_CONFIG directory of this process's own, with the CLI plugins docker-buildx 0.13 and
 * docker-compose 2.26 from $TODAY_DOCKER_DIR/cli-plugins, so `docker buildx`, BuildKit `docker build`
 * and `docker compose` (v2) work without reading or writing the machine's ~/.docker. Made once per
 * process in the temp dir; removed at exit where the runtime emits it (`bun test` does not), and
 * otherwise by the next process that makes one, as its name carries the pid of its owner.
 */
export function privateDockerConfig(): string {
  if (dockerConfigDir !== undefined) return dockerConfigDir;
  const plugins = join(TODAY_DOCKER_DIR, 'cli-plugins');
  for (const p of ['docker-buildx', 'docker-compose']) {
    if (!existsSync(join(plugins, p))) throw new Error(`testbed: ${join(plugins, p)} is missing (run scripts/install.sh as root)`);
  }
  for (const name of readdirSync(tmpdir())) {
    const m = name.startsWith(DOCKER_CONFIG_PREFIX) ? /^(\d+)-/.exec(name.slice(DOCKER_CONFIG_PREFIX.length)) : null;
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  const dir = mkdtempSync(join(tmpdir(), `${DOCKER_CONFIG_PREFIX}${process.pid}-`));
  mkdirSync(join(dir, 'cli-plugins'));
  // The CLI follows plugin symlinks; the binaries are 60 MB each.
  for (const p of ['docker-buildx', 'docker-compose']) symlinkSync(join(plugins, p), join(dir, 'cli-plugins', p));
  writeFileSync(join(dir, 'config.json'), '{\n  "auths": {}\n}\n');
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  dockerConfigDir = dir;
  return dir;
}

/** The kinds of test cluster SWARM_TEST_CLUSTER selects. */
export type ClusterKind = '2010' | 'mixed';

/**
 * Engine options for testbedUp from SWARM_TEST_CLUSTER: `2010` (the default) starts dockerd 20.10 on
 * every host; `mixed` starts dockerd 20.10 on odd hosts and dockerd 26 with minimum API 1.44 (as
 * Docker Engine 29) on even ones, so host 1 is old and host 2 new. `hosts` bounds the host numbers
 * named (hosts past the testbed's size are ignored by the script).
 */
export function clusterKindFromEnv(hosts = 16): Pick<TestbedOptions, 'engines' | 'minApi'> {
  const kind = clusterKind();
  if (kind === '2010') return {};
  const engines: PerHost<EngineKind> = { all: '20.10' };
  const minApi: PerHost<string> = {};
  for (let i = 2; i <= hosts; i += 2) {
    engines[i] = '26';
    minApi[i] = '1.44';
  }
  return { engines, minApi };
}

/** SWARM_TEST_CLUSTER, checked: `2010` (default) or `mixed`. */
export function clusterKind(): ClusterKind {
  const v = process.env.SWARM_TEST_CLUSTER?.trim() || '2010';
  if (v === '2010' || v === 'mixed') return v;
  throw new Error(`SWARM_TEST_CLUSTER must be 2010 or mixed, got '${v}'`);
}

/** Runs `scripts/testbed.sh ...args`; throws with its stderr when it fails. */
export async function testbedScript(args: string[], timeoutMs = 300_000): Promise<CliResult> {
  const r = await run(['bash', TESTBED_SCRIPT, ...args], { timeoutMs, env: { TESTBED_DIR: testbedDir() } });
  if (r.code !== 0) {
    const why = r.timedOut ? `timed out after ${timeoutMs} ms` : `exited ${r.code}`;
    throw new Error(`scripts/testbed.sh ${args.join(' ')} ${why}:\n${r.stderr}${r.stdout}`);
  }
  return r;
}

function perHostArgs<T>(flag: string, values: PerHost<T> | undefined, render: (v: T) => string[]): string[] {
  const out: string[] = [];
  if (!values) return out;
  for (const [key, v] of Object.entries(values) as [string, T | undefined][]) {
    if (v === undefined) continue;
    if (key !== 'all' && !/^\d+$/.test(key)) throw new Error(`testbed: bad host key ${key}`);
    for (const item of render(v)) out.push(flag, `${key}:${item}`);
  }
  return out;
}

/** Tears down any previous testbed and starts n engines; resolves to the hosts once all answer. */
export async function testbedUp(n: number, opts: TestbedOptions = {}): Promise<TestbedHost[]> {
  const args = ['up', String(n)];
  if (opts.storage) args.push('--storage', opts.storage.join(','));
  args.push(...perHostArgs('--label', opts.labels, (labels) => Object.entries(labels).map(([k, v]) => `${k}=${v}`)));
  args.push(...perHostArgs('--dockerd-arg', opts.dockerdArgs, (a) => a));
  args.push(...perHostArgs('--engine', opts.engines, (k) => [k]));
  args.push(...perHostArgs('--min-api', opts.minApi, (v) => [v]));
  if (opts.registry) args.push('--registry');
  if (opts.image === false) args.push('--no-image');
  if (opts.timeoutSec !== undefined) args.push('--timeout', String(opts.timeoutSec));
  await testbedScript(args, ((opts.timeoutSec ?? 120) + 180) * 1000);
  return readHosts();
}

/** Removes everything the testbed made (idempotent). */
export async function testbedDown(): Promise<void> {
  await testbedScript(['down'], 120_000);
}

/** The hosts of the running testbed, from $TESTBED_DIR/hosts ([] if none is up). */
export function readHosts(): TestbedHost[] {
  const file = join(testbedDir(), 'hosts');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((line) => {
      const [name, ip, port, storageDriver, engine = '20.10'] = line.split(/\s+/);
      if (!name || !ip || !port || !storageDriver) throw new Error(`testbed: bad line in ${file}: ${line}`);
      if (engine !== '20.10' && engine !== '26') throw new Error(`testbed: bad engine kind in ${file}: ${line}`);
      return { index: Number(name.replace(/^node-/, '')), name, ip, port: Number(port), addr: `${ip}:${port}`, storageDriver, engine };
    });
}

/** The registry address if the testbed runs one. */
export function registryAddr(): string | undefined {
  const file = join(testbedDir(), 'registry.addr');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

/** kill -9 host i's dockerd (hard: everything the host runs, containers included). */
export async function killEngine(i: number, opts: { hard?: boolean } = {}): Promise<void> {
  await testbedScript(['kill-engine', String(i), ...(opts.hard ? ['--hard'] : [])], 60_000);
}

/** Starts host i's dockerd again with its settings; resolves once its API answers. */
export async function startEngine(i: number): Promise<void> {
  await testbedScript(['start-engine', String(i)], 180_000);
}

export async function restartEngine(i: number, opts: { hard?: boolean } = {}): Promise<void> {
  await testbedScript(['restart-engine', String(i), ...(opts.hard ? ['--hard'] : [])], 180_000);
}

/** Cuts host i off the network (its dockerd keeps running). */
export async function linkDown(i: number): Promise<void> {
  await testbedScript(['link-down', String(i)], 30_000);
}

export async function linkUp(i: number): Promise<void> {
  await testbedScript(['link-up', String(i)], 30_000);
}
