/**
 * `npm run bench`: the manager over simulated clusters (bench/engine-sim.ts, dockerd 26 payloads of
 * compose projects, see bench/payloads) of 100 and 1,000 engines with 30 containers each (5,000 with
 * --large), measured as Docker's 2015 scale test did (1,000 `docker info`, 1,000 container
 * create+start through the manager, each request after the last), plus:
 *
 * - the same create+start sent straight to one engine, to isolate the manager's own overhead;
 * - the Engine API calls the manager makes per operation (the simulator counts them by route), with
 *   the periodic refresh moved out of the way (--engine-refresh-min-interval 10m) and what an idle
 *   manager still calls, measured first, taken off;
 * - the manager's CPU per operation (from /proc, the idle rate taken off), its RSS and peak RSS;
 * - the heap one cached container and one engine cost (bench/memory.ts, the manager's own code);
 * - create+start from 32 concurrent clients, as placements per second, each asking 1 GiB, and a
 *   check that no engine was given more memory than it has (overbooking) at the end;
 * - the time from the manager's start until every engine is Healthy.
 *
 * Prints two tables, writes bench/results/results.json and a chart of latency against cluster size
 * (bench/results/latency.svg).
 *
 *   bun bench/run.ts [--sizes 100,1000] [--large] [--containers 30] [--requests 1000] [--clients 32]
 *                    [--out bench/results] [--swarm dist/swarm] [--profile]
 *
 * --large adds 5,000 engines (150,000 containers: several minutes, ~3 GB of memory in all).
 * --profile runs the manager from source under `bun --cpu-prof` and writes its CPU profile to
 * bench/results/run-<size>/ (open it in Chrome DevTools or speedscope).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { renderLatencyChart, type ChartSeries } from './chart';
import { measureCacheBytes, type CacheBytes } from './memory';
import { percentiles, type Percentiles } from './stats';
import { DEFAULT_OVERCOMMIT, withOvercommit } from '../src/lib/scheduler/resources';

interface Options {
  sizes: number[];
  containers: number;
  requests: number;
  clients: number;
  out: string;
  swarm: string;
  profile: boolean;
}

/** Engine API calls by route (`POST /containers/create`, `GET /containers/{id}/json`...). */
type Calls = Record<string, number>;

interface Cost {
  /** Engine API calls per operation, in all and by route. */
  calls: number;
  callsByRoute: Calls;
  /** Manager CPU per operation, ms. */
  cpuMs: number;
}

interface SizeResult {
  engines: number;
  containers: number;
  startupToHealthyMs: number;
  /** CPU seconds spent until every engine was Healthy: the manager's, and the simulator's serving it. */
  startupCpu: { manager: number; simulator: number };
  info: Percentiles & { throughput: number } & Cost;
  create: Percentiles & { throughput: number } & Cost;
  directCreate: Percentiles;
  createOverhead: Percentiles;
  concurrent: { clients: number; placed: number; refused: number; failed: number; placementsPerSecond: number; overbookedEngines: number; wallMs: number };
  idle: { callsPerSecond: number; callsByRoute: Calls; cpuPercent: number };
  managerRssMb: number;
  managerPeakRssMb: number;
  cache: CacheBytes;
}

const ROOT = resolve(import.meta.dir, '..');
/** What every create asks in the concurrent phase: enough that small clusters fill up. */
const CONCURRENT_MEMORY = 1024 ** 3;

function parseArgs(argv: string[]): Options {
  const opts: Options = { sizes: [100, 1000], containers: 30, requests: 1000, clients: 32, out: join(ROOT, 'bench/results'), swarm: join(ROOT, 'dist/swarm'), profile: false };
  let large = false;
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--sizes':
        opts.sizes = (value ?? '').split(',').map(Number).filter((n) => n > 0);
        i++;
        break;
      case '--large':
        large = true;
        break;
      case '--containers':
        opts.containers = Number(value);
        i++;
        break;
      case '--requests':
        opts.requests = Number(value);
        i++;
        break;
      case '--clients':
        opts.clients = Number(value);
        i++;
        break;
      case '--out':
        opts.out = resolve(value ?? '');
        i++;
        break;
      case '--swarm':
        opts.swarm = resolve(value ?? '');
        i++;
        break;
      case '--profile':
        opts.profile = true;
        break;
      default:
        throw new Error(`unknown option ${argv[i]} (see the header of bench/run.ts)`);
    }
  }
  if (large && !opts.sizes.includes(5000)) opts.sizes.push(5000);
  if (!opts.sizes.length || !(opts.requests > 0) || !(opts.containers >= 0) || !(opts.clients > 0)) throw new Error('bad --sizes, --requests, --clients or --containers');
  if (!opts.profile && !existsSync(opts.swarm)) throw new Error(`${opts.swarm} is missing: run "npm run build" first`);
  return opts;
}

function spawnLogged(cmd: string[], logFile: string, cwd?: string): Subprocess {
  return Bun.spawn(cmd, { cwd, stdout: Bun.file(logFile), stderr: Bun.file(logFile + '.err'), stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, pollMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(pollMs);
  }
}

/** CPU seconds and RSS (now and peak) of a process, from /proc. */
function processUsage(pid: number): { cpuSeconds: number; rssMb: number; peakRssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { cpuSeconds: ticks / 100, rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

async function timed(n: number, call: (i: number) => Promise<void>): Promise<{ samples: number[]; wallMs: number }> {
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await call(i);
    samples.push(performance.now() - t0);
  }
  return { samples, wallMs: performance.now() - start };
}

async function expectOk(res: Response, what: string): Promise<void> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  await res.arrayBuffer();
}

function healthyCount(info: { SystemStatus?: [string, string][] | null }): number {
  return (info.SystemStatus ?? []).filter(([k, v]) => k.includes('Status') && v === 'Healthy').length;
}

const json = { 'content-type': 'application/json' };

/** create then start, at `base` (the manager or an engine); the ID, or the refusal's HTTP status. */
async function createStart(base: string, body: object): Promise<{ id?: string; status: number; text?: string }> {
  const r = await fetch(`${base}/containers/create`, { method: 'POST', headers: json, body: JSON.stringify(body) });
  if (r.status !== 201) return { status: r.status, text: await r.text() };
  const { Id } = (await r.json()) as { Id: string };
  const s = await fetch(`${base}/containers/${Id}/start`, { method: 'POST' });
  await s.arrayBuffer();
  if (s.status !== 204) return { status: s.status };
  return { id: Id, status: 204 };
}

/** The simulator's call counter (see engine-sim's /_sim routes). */
async function simCalls(engine: string): Promise<Calls> {
  return ((await (await fetch(`${engine}/_sim/calls`)).json()) as { routes: Calls }).routes;
}

function minus(after: Calls, before: Calls): Calls {
  const out: Calls = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) out[k] = v - (before[k] ?? 0);
  return out;
}

/** Calls of a phase per operation, the idle refresh rate over the phase's duration taken off. */
function perOp(delta: Calls, idlePerSecond: Calls, seconds: number, ops: number): { calls: number; callsByRoute: Calls } {
  const byRoute: Calls = {};
  let calls = 0;
  for (const [k, v] of Object.entries(delta)) {
    const n = Math.max(0, v - (idlePerSecond[k] ?? 0) * seconds) / ops;
    if (n >= 0.005) byRoute[k] = Number(n.toFixed(2));
    calls += n;
  }
  return { calls: Number(calls.toFixed(2)), callsByRoute: byRoute };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** The first `count` consecutive free ports from `from` on (other programs may hold some). */
async function freeRange(from: number, count: number): Promise<number> {
  let start = from;
  for (let p = start; p < start + count; p += 64) {
    const batch = Array.from({ length: Math.min(64, start + count - p) }, (_, i) => p + i);
    const taken = (await Promise.all(batch.map(async (q) => ((await portFree(q)) ? -1 : q)))).filter((q) => q >= 0);
    if (taken.length) {
      start = Math.max(...taken) + 1;
      p = start - 64;
    }
    if (start + count > 32768) throw new Error(`no ${count} free ports below 32768`);
  }
  return start;
}

async function benchSize(opts: Options, engines: number, port: { next: number }): Promise<SizeResult> {
  const work = join(opts.out, `run-${engines}`);
  mkdirSync(work, { recursive: true });
  const addrsFile = join(work, 'engines.txt');
  writeFileSync(addrsFile, '');
  const simPort = await freeRange(port.next, engines + 1);
  port.next = simPort + engines + 10;
  const sim = spawnLogged(
    [process.execPath, join(ROOT, 'bench/engine-sim.ts'), '--nodes', String(engines), '--containers', String(opts.containers), '--base-port', String(simPort), '--addrs-file', addrsFile, '--no-auto-exit', '--engine', '26', '--workload', 'compose'],
    join(work, 'sim.log'),
  );
  const managerPort = simPort + engines;
  const manager = `http://127.0.0.1:${managerPort}`;
  let swarm: Subprocess | undefined;
  try {
    await waitUntil('the simulator', () => readFileSync(addrsFile, 'utf8').split('\n').filter(Boolean).length === engines, 300_000);
    const firstEngine = `http://${readFileSync(addrsFile, 'utf8').split('\n')[0]}`;

    // The periodic refresh (every 30-60 s per engine, v1's) is moved past the measured windows, so
    // that the calls and CPU counted are each operation's own.
    const args = ['manage', '-H', `127.0.0.1:${managerPort}`, '--engine-refresh-min-interval', '10m', '--engine-refresh-max-interval', '15m', `file://${addrsFile}`];
    const cmd = opts.profile ? [process.execPath, '--cpu-prof', `--cpu-prof-dir=${work}`, join(ROOT, 'bin/swarm.ts'), ...args] : [opts.swarm, ...args];
    const simCpu0 = processUsage(sim.pid).cpuSeconds;
    const t0 = performance.now();
    swarm = spawnLogged(cmd, join(work, 'manager.log'), work);
    await waitUntil(
      `${engines} healthy engines`,
      async () => {
        const res = await fetch(`${manager}/info`).catch(() => undefined);
        return !!res?.ok && healthyCount((await res.json()) as { SystemStatus?: [string, string][] }) === engines;
      },
      600_000,
      100,
    );
    const startupToHealthyMs = performance.now() - t0;
    const pid = swarm.pid;
    const startupCpu = { manager: processUsage(pid).cpuSeconds, simulator: Number((processUsage(sim.pid).cpuSeconds - simCpu0).toFixed(2)) };

    // What the manager does on its own (refresh loops): taken off each phase's counts.
    await Bun.sleep(1000);
    const idleCalls0 = await simCalls(firstEngine);
    const idleCpu0 = processUsage(pid).cpuSeconds;
    const idleT0 = performance.now();
    await Bun.sleep(5000);
    const idleSeconds = (performance.now() - idleT0) / 1000;
    const idleDelta = minus(await simCalls(firstEngine), idleCalls0);
    const idlePerSecond: Calls = Object.fromEntries(Object.entries(idleDelta).map(([k, v]) => [k, v / idleSeconds]));
    const idleCpuPerSecond = (processUsage(pid).cpuSeconds - idleCpu0) / idleSeconds;

    const phase = async (n: number, call: (i: number) => Promise<void>) => {
      const calls0 = await simCalls(firstEngine);
      const cpu0 = processUsage(pid).cpuSeconds;
      const r = await timed(n, call);
      const seconds = r.wallMs / 1000;
      const cpuMs = (Math.max(0, processUsage(pid).cpuSeconds - cpu0 - idleCpuPerSecond * seconds) * 1000) / n;
      const delta = minus(await simCalls(firstEngine), calls0);
      return { ...r, cost: { ...perOp(delta, idlePerSecond, seconds, n), cpuMs: Number(cpuMs.toFixed(2)) } };
    };

    const info = await phase(opts.requests, async () => expectOk(await fetch(`${manager}/info`), 'GET /info'));
    const body = (i: number) => ({ Image: 'busybox:latest', Cmd: ['sleep', '3600'], Labels: { bench: String(i) } });
    const create = await phase(opts.requests, async (i) => {
      const r = await createStart(manager, body(i));
      if (!r.id) throw new Error(`create+start via manager: HTTP ${r.status} ${r.text ?? ''}`);
    });
    const direct = await timed(opts.requests, async (i) => {
      const r = await createStart(firstEngine, body(i));
      if (!r.id) throw new Error(`create+start direct: HTTP ${r.status} ${r.text ?? ''}`);
    });

    // 32 clients at once, each create asking 1 GiB; refusals (no node has the memory) are expected
    // once small clusters fill up.
    const concurrent = { placed: 0, refused: 0, failed: 0 };
    let next = 0;
    const c0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.clients }, async () => {
        while (next < opts.requests) {
          const i = next++;
          const r = await createStart(manager, { Image: 'busybox:latest', Cmd: ['sleep', '3600'], Labels: { 'bench.concurrent': String(i) }, HostConfig: { Memory: CONCURRENT_MEMORY } });
          if (r.id) concurrent.placed++;
          else if (r.status === 500 && /no resources|not enough|Unable to find a node/i.test(r.text ?? '')) concurrent.refused++;
          else concurrent.failed++;
        }
      }),
    );
    const concurrentMs = performance.now() - c0;
    const usage = (await (await fetch(`${firstEngine}/_sim/engines`)).json()) as { memTotal: number; reservedMemory: number }[];
    const overbookedEngines = usage.filter((u) => u.reservedMemory > withOvercommit(u.memTotal, DEFAULT_OVERCOMMIT)).length;

    const end = processUsage(pid);
    const createP = percentiles(create.samples);
    const directP = percentiles(direct.samples);
    return {
      engines,
      containers: engines * opts.containers,
      startupToHealthyMs,
      startupCpu,
      info: { ...percentiles(info.samples), throughput: (opts.requests * 1000) / info.wallMs, ...info.cost },
      create: { ...createP, throughput: (opts.requests * 1000) / create.wallMs, ...create.cost },
      directCreate: directP,
      createOverhead: { p50: createP.p50 - directP.p50, p90: createP.p90 - directP.p90, p99: createP.p99 - directP.p99, max: createP.max - directP.max },
      concurrent: { clients: opts.clients, ...concurrent, placementsPerSecond: (concurrent.placed * 1000) / concurrentMs, overbookedEngines, wallMs: concurrentMs },
      idle: { callsPerSecond: Number(Object.values(idlePerSecond).reduce((a, b) => a + b, 0).toFixed(1)), callsByRoute: Object.fromEntries(Object.entries(idlePerSecond).map(([k, v]) => [k, Number(v.toFixed(1))])), cpuPercent: Number((idleCpuPerSecond * 100).toFixed(1)) },
      managerRssMb: end.rssMb,
      managerPeakRssMb: end.peakRssMb,
      cache: await measureCacheBytes(Math.min(engines, 200), opts.containers, '26'),
    };
  } finally {
    swarm?.kill('SIGTERM');
    sim.kill('SIGTERM');
    await Promise.all([swarm?.exited, sim.exited]);
  }
}

function fmt(n: number): string {
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

function render(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n');
}

function latencyTable(results: SizeResult[]): string {
  return render(
    ['engines', 'containers', 'healthy after', 'info p50/p90/p99 ms', 'info req/s', 'create+start p50/p90/p99 ms', 'overhead p99 ms', 'placements/s (32 clients)', 'overbooked', 'RSS / peak MB'],
    results.map((r) => [
      String(r.engines),
      String(r.containers),
      `${(r.startupToHealthyMs / 1000).toFixed(1)} s`,
      `${fmt(r.info.p50)} / ${fmt(r.info.p90)} / ${fmt(r.info.p99)}`,
      fmt(r.info.throughput),
      `${fmt(r.create.p50)} / ${fmt(r.create.p90)} / ${fmt(r.create.p99)}`,
      fmt(r.createOverhead.p99),
      `${fmt(r.concurrent.placementsPerSecond)} (${r.concurrent.placed} placed, ${r.concurrent.refused} refused)`,
      String(r.concurrent.overbookedEngines),
      `${fmt(r.managerRssMb)} / ${fmt(r.managerPeakRssMb)}`,
    ]),
  );
}

function costTable(results: SizeResult[]): string {
  const routes = (c: Calls) =>
    Object.entries(c)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ') || '-';
  return render(
    ['engines', 'start-up CPU s (manager / sim)', 'CPU ms / info', 'CPU ms / create+start', 'engine calls / info', 'engine calls / create+start', 'idle: calls/s, CPU', 'cache B / container', 'cache KB / engine'],
    results.map((r) => [
      String(r.engines),
      `${r.startupCpu.manager.toFixed(1)} / ${r.startupCpu.simulator.toFixed(1)}`,
      r.info.cpuMs.toFixed(2),
      r.create.cpuMs.toFixed(2),
      String(r.info.calls),
      `${r.create.calls} (${routes(r.create.callsByRoute)})`,
      `${r.idle.callsPerSecond}, ${r.idle.cpuPercent}%`,
      fmt(r.cache.perContainer),
      fmt(r.cache.perEngine / 1024),
    ]),
  );
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  mkdirSync(opts.out, { recursive: true });
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(totalmem() / 2 ** 30) };
  console.error(`bench: ${opts.sizes.join(', ')} engines × ${opts.containers} containers, ${opts.requests} requests each, on ${machine.cpus} × ${machine.cpuModel}`);
  const port = { next: 21000 };
  const results: SizeResult[] = [];
  for (const size of opts.sizes) {
    console.error(`bench: ${size} engines...`);
    results.push(await benchSize(opts, size, port));
    if (opts.profile) console.error(`bench: CPU profile in ${join(opts.out, `run-${size}`)}: ${readdirSync(join(opts.out, `run-${size}`)).filter((f) => f.endsWith('.cpuprofile')).join(', ')}`);
  }
  const command = `bun bench/run.ts ${process.argv.slice(2).join(' ')}`.trim();
  const report = { date: new Date().toISOString(), machine, command, options: { containers: opts.containers, requests: opts.requests, clients: opts.clients, payloads: 'dockerd 26, compose workload' }, results };
  writeFileSync(join(opts.out, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  const series: ChartSeries[] = [
    { name: 'docker info p50', points: results.map((r) => [r.engines, r.info.p50]) },
    { name: 'docker info p99', points: results.map((r) => [r.engines, r.info.p99]) },
    { name: 'create+start p50', points: results.map((r) => [r.engines, r.create.p50]) },
    { name: 'create+start p99', points: results.map((r) => [r.engines, r.create.p99]) },
  ];
  writeFileSync(join(opts.out, 'latency.svg'), renderLatencyChart(series, `Manager latency against cluster size (${opts.containers} containers per engine)`));
  console.log(latencyTable(results));
  console.log('');
  console.log(costTable(results));
  const overbooked = results.filter((r) => r.concurrent.overbookedEngines > 0 || r.concurrent.failed > 0);
  console.log(`\nwrote ${join(opts.out, 'results.json')} and ${join(opts.out, 'latency.svg')}`);
  if (overbooked.length) {
    console.error(`bench: ${overbooked.map((r) => `${r.engines} engines: ${r.concurrent.overbookedEngines} overbooked, ${r.concurrent.failed} failed`).join('; ')}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
