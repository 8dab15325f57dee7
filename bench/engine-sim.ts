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
 *
 * This file is the command line; the simulator is in bench/sim/ (simulator.ts starts it).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { parseByteSize } from '../src/lib/size';
import { startSimulator, type SimulatorOptions } from './sim/simulator';

export { startSimulator };
export type { SimEngineInfo, Simulator, SimulatorOptions, Workload } from './sim/simulator';

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
        opts.memTotal = parseByteSize(val(), '--memory');
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
