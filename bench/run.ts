/**
 * `npm run bench`: the manager over simulated clusters (bench/engine-sim.ts) of 100, 300 and 1,000
 * engines with 30 containers each, measured as Docker's 2015 scale test did (1,000 `docker info`,
 * 1,000 container creates through the manager), plus the same creates sent straight to one engine to
 * isolate the manager's own overhead. Prints a table, writes bench/results/results.json and a chart
 * of latency against cluster size (bench/results/latency.svg).
 *
 *   bun bench/run.ts [--sizes 100,300,1000] [--containers 30] [--requests 1000] [--out bench/results]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { renderLatencyChart, type ChartSeries } from './chart';
import { percentiles, type Percentiles } from './stats';

interface Options {
  sizes: number[];
  containers: number;
  requests: number;
  out: string;
  swarm: string;
}

interface SizeResult {
  engines: number;
  containers: number;
  startupToHealthyMs: number;
  info: Percentiles & { throughput: number };
  create: Percentiles & { throughput: number };
  directCreate: Percentiles;
  createOverhead: Percentiles;
  managerRssMb: number;
  managerCpuSeconds: number;
}

const ROOT = resolve(import.meta.dir, '..');

function parseArgs(argv: string[]): Options {
  const opts: Options = { sizes: [100, 300, 1000], containers: 30, requests: 1000, out: join(ROOT, 'bench/results'), swarm: join(ROOT, 'dist/swarm') };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--sizes':
        opts.sizes = (value ?? '').split(',').map(Number).filter((n) => n > 0);
        i++;
        break;
      case '--containers':
        opts.containers = Number(value);
        i++;
        break;
      case '--requests':
        opts.requests = Number(value);
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
      default:
        throw new Error(`unknown option ${argv[i]} (see the header of bench/run.ts)`);
    }
  }
  if (!opts.sizes.length || !(opts.requests > 0) || !(opts.containers >= 0)) throw new Error('bad --sizes, --requests or --containers');
  if (!existsSync(opts.swarm)) throw new Error(`${opts.swarm} is missing: run "npm run build" first`);
  return opts;
}

function spawnLogged(cmd: string[], logFile: string): Subprocess {
  return Bun.spawn(cmd, { stdout: Bun.file(logFile), stderr: Bun.file(logFile + '.err'), stdin: 'ignore', env: { ...process.env, NO_COLOR: '1' } });
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** CPU seconds and RSS of a process, from /proc. */
function processUsage(pid: number): { cpuSeconds: number; rssMb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rssPages = Number(fields[21]);
  return { cpuSeconds: ticks / 100, rssMb: (rssPages * 4096) / 1024 / 1024 };
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

async function benchSize(opts: Options, engines: number, port: { next: number }): Promise<SizeResult> {
  const work = join(opts.out, `run-${engines}`);
  mkdirSync(work, { recursive: true });
  const addrsFile = join(work, 'engines.txt');
  writeFileSync(addrsFile, '');
  const simPort = port.next;
  port.next += engines + 10;
  const sim = spawnLogged(
    [process.execPath, join(ROOT, 'bench/engine-sim.ts'), '--nodes', String(engines), '--containers', String(opts.containers), '--base-port', String(simPort), '--addrs-file', addrsFile, '--no-auto-exit'],
    join(work, 'sim.log'),
  );
  const managerPort = port.next++;
  const manager = `http://127.0.0.1:${managerPort}`;
  let swarm: Subprocess | undefined;
  try {
    await waitUntil('the simulator', () => readFileSync(addrsFile, 'utf8').split('\n').filter(Boolean).length === engines, 60_000);
    const firstEngine = `http://${readFileSync(addrsFile, 'utf8').split('\n')[0]}`;

    const t0 = performance.now();
    swarm = spawnLogged([opts.swarm, 'manage', '-H', `127.0.0.1:${managerPort}`, `file://${addrsFile}`], join(work, 'manager.log'));
    await waitUntil(
      `${engines} healthy engines`,
      async () => {
        const res = await fetch(`${manager}/info`).catch(() => undefined);
        return !!res?.ok && healthyCount((await res.json()) as { SystemStatus?: [string, string][] }) === engines;
      },
      300_000,
    );
    const startupToHealthyMs = performance.now() - t0;
    const cpuBefore = processUsage(swarm.pid).cpuSeconds;

    const info = await timed(opts.requests, async () => expectOk(await fetch(`${manager}/info`), 'GET /info'));
    const body = (i: number) => JSON.stringify({ Image: 'busybox:latest', Cmd: ['sleep', '3600'], Labels: { bench: String(i) } });
    const create = await timed(opts.requests, async (i) =>
      expectOk(await fetch(`${manager}/containers/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) }), 'create via manager'),
    );
    const direct = await timed(opts.requests, async (i) =>
      expectOk(await fetch(`${firstEngine}/containers/create`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) }), 'create direct'),
    );
    const usage = processUsage(swarm.pid);
    const createP = percentiles(create.samples);
    const directP = percentiles(direct.samples);
    return {
      engines,
      containers: engines * opts.containers,
      startupToHealthyMs,
      info: { ...percentiles(info.samples), throughput: (opts.requests * 1000) / info.wallMs },
      create: { ...createP, throughput: (opts.requests * 1000) / create.wallMs },
      directCreate: directP,
      createOverhead: { p50: createP.p50 - directP.p50, p90: createP.p90 - directP.p90, p99: createP.p99 - directP.p99, max: createP.max - directP.max },
      managerRssMb: usage.rssMb,
      managerCpuSeconds: usage.cpuSeconds - cpuBefore,
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

function table(results: SizeResult[]): string {
  const head = ['engines', 'containers', 'healthy after', 'info p50/p90/p99 ms', 'info req/s', 'create p50/p90/p99 ms', 'overhead p99 ms', 'RSS MB', 'CPU s'];
  const rows = results.map((r) => [
    String(r.engines),
    String(r.containers),
    `${(r.startupToHealthyMs / 1000).toFixed(1)} s`,
    `${fmt(r.info.p50)} / ${fmt(r.info.p90)} / ${fmt(r.info.p99)}`,
    fmt(r.info.throughput),
    `${fmt(r.create.p50)} / ${fmt(r.create.p90)} / ${fmt(r.create.p99)}`,
    fmt(r.createOverhead.p99),
    fmt(r.managerRssMb),
    fmt(r.managerCpuSeconds),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line(head), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map(line)].join('\n');
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
  }
  const report = { date: new Date().toISOString(), machine, options: { containers: opts.containers, requests: opts.requests }, results };
  writeFileSync(join(opts.out, 'results.json'), JSON.stringify(report, null, 2) + '\n');
  const series: ChartSeries[] = [
    { name: 'docker info p50', points: results.map((r) => [r.engines, r.info.p50]) },
    { name: 'docker info p99', points: results.map((r) => [r.engines, r.info.p99]) },
    { name: 'create p50', points: results.map((r) => [r.engines, r.create.p50]) },
    { name: 'create p99', points: results.map((r) => [r.engines, r.create.p99]) },
  ];
  writeFileSync(join(opts.out, 'latency.svg'), renderLatencyChart(series, 'Manager latency against cluster size (30 containers per engine)'));
  console.log(table(results));
  console.log(`\nwrote ${join(opts.out, 'results.json')} and ${join(opts.out, 'latency.svg')}`);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
