/** Many simulated engines in one process: made, populated, put on the network in batches, and closed. */
import { loadProfile, type EngineKind } from '../payloads/profile';
import { clearTimers } from './lifecycle';
import { populate } from './populate';
import { Rng } from './random';
import { SimEngine, type Shared } from './server';
import { EngineState, type Workload } from './state';

export type { Workload };

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

/** 8 GiB less what the kernel keeps, as a real 8 GiB host reports. */
const DEFAULT_MEM = 8_232_591_360;

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const nodes = opts.nodes ?? 10;
  const perEngine = opts.containers ?? 30;
  const basePort = opts.basePort ?? 0;
  const latencyMs = opts.latencyMs ?? 0;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  const prefix = opts.namePrefix ?? 'sim-';
  const engines: SimEngine[] = [];
  const shared: Shared = { engines, calls: new Map(), connections: 0 };
  const profile = loadProfile(opts.engine ?? '20.10');
  for (let i = 0; i < nodes; i++) {
    const labels = [...(opts.labelsFor ? opts.labelsFor(i) : [`sim.index=${i}`, `zone=zone-${i % 4}`, `storage=${i % 2 === 0 ? 'ssd' : 'disk'}`]), ...(opts.labels ?? [])];
    const state = new EngineState({
      index: i,
      name: `${prefix}${i}`,
      host: opts.host ?? '127.0.0.1',
      port: basePort ? basePort + i : 0,
      labels,
      ncpu: opts.ncpu ?? 4,
      memTotal: opts.memTotal ?? DEFAULT_MEM,
      latencyMs,
      jitterMs: opts.jitterMs ?? latencyMs / 10,
      autoExit: opts.autoExit ?? true,
      rng: new Rng((seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0),
      profile,
      workload: opts.workload ?? 'basic',
    });
    populate(state, perEngine);
    engines.push(new SimEngine(state, shared));
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
  const get = (i: number): SimEngine => {
    const e = engines[i];
    if (!e) throw new RangeError(`no engine ${i}`);
    return e;
  };
  return {
    engines: engines.map((e) => ({ addr: e.addr, id: e.state.id, name: e.state.name, port: e.port })),
    async close() {
      for (const e of engines) clearTimers(e.state);
      await Promise.all(engines.map((e) => e.close()));
    },
    async stopEngine(i) {
      await get(i).close();
    },
    async startEngine(i) {
      const e = get(i);
      if (!e.listening) await e.listen();
    },
    counts(i) {
      const k = get(i).state.counts();
      return { total: k.total, running: k.running + k.paused, images: k.images };
    },
  };
}
