/**
 * Bun helpers around scripts/testbed.sh: real Docker engines on this machine, each in its own
 * network namespace, reachable from here at 10.99.0.(10+i):2375. Needs root.
 *
 *   const hosts = await testbedUp(3, { labels: { 1: { environment: 'production' } }, registry: true });
 *   const r = await dockerCli(hosts[0]!.addr, ['run', '--rm', 'busybox', 'echo', 'hi']);
 *   await testbedDown();
 */
import { existsSync, readFileSync } from 'node:fs';
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
}

/** Per-host values keyed by host number (1-based), or `all` for every host. */
export type PerHost<T> = { [host: number]: T; all?: T };

export interface TestbedOptions {
  /** Storage driver per host, in host order (default overlay2, btrfs, vfs; overlay2 past the list). */
  storage?: string[];
  /** Engine labels (dockerd --label) per host. */
  labels?: PerHost<Record<string, string>>;
  /** Extra dockerd arguments per host. */
  dockerdArgs?: PerHost<string[]>;
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
  return run(['docker', '-H', host, ...args], opts);
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
      const [name, ip, port, storageDriver] = line.split(/\s+/);
      if (!name || !ip || !port || !storageDriver) throw new Error(`testbed: bad line in ${file}: ${line}`);
      return { index: Number(name.replace(/^node-/, '')), name, ip, port: Number(port), addr: `${ip}:${port}`, storageDriver };
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
