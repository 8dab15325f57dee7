/**
 * Real KV stores for tests, on loopback, each on its own free ports and temporary data dir:
 * etcd (Debian `etcd-server`, /usr/bin/etcd) and ZooKeeper (Debian `zookeeper`, run with java
 * directly from a generated zoo.cfg), plus the Consul emulator (or a real Consul when
 * CONSUL_HTTP_ADDR is set). Each has stop/start/restart that keep ports and data, so a test can
 * take a store away under a running cluster and bring it back. Missing packages are installed with
 * apt-get when running as root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startConsulEmulator, type ConsulEmulator } from '../consul-emulator/server';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';
export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
export const JAVA_BIN = process.env.JAVA_BIN ?? '/usr/bin/java';

export interface KVServer {
  readonly kind: 'etcd' | 'zk' | 'consul';
  /** `host:port` for the discovery URL. */
  readonly addr: string;
  /** Whether stop/start are available (false for an external Consul). */
  readonly restartable: boolean;
  stop(): Promise<void>;
  /** SIGKILL: like a crash (etcd/zk); same as stop for the emulator. */
  kill(): Promise<void>;
  start(): Promise<void>;
  restart(downMs?: number): Promise<void>;
  /** Stops for good and removes the data dir. */
  destroy(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

let aptUpdated = false;
/** Installs a Debian package when `probe` is missing (root only). */
export function ensurePackage(probe: string, pkg: string): void {
  if (existsSync(probe)) return;
  if (process.getuid?.() !== 0) throw new Error(`${probe} is missing: install the Debian package ${pkg}`);
  if (!aptUpdated) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 });
    aptUpdated = true;
  }
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], {
    stdio: 'ignore',
    timeout: 600_000,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.status !== 0 || !existsSync(probe)) throw new Error(`could not install ${pkg} (apt-get exit ${r.status})`);
}

/** Resolves when a TCP connection to host:port succeeds (and `check` passes, if given). */
async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>, proc?: () => ChildProcess | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    const p = proc?.();
    if (p && p.exitCode !== null) throw new Error(`${what} exited with code ${p.exitCode} while starting`);
    if (Date.now() > deadline) throw new Error(`${what} did not become ready within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function tcpSay(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('timeout')));
    socket.on('connect', () => socket.write(text));
    socket.on('data', (d) => (out += d.toString()));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

const live = new Set<ChildProcess>();
// Never leave a store running behind a crashed or interrupted test run.
process.on('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

function tcpProbe(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('close', () => resolve(false));
  });
}

/** PEM files of a throw-away CA, a server certificate for 127.0.0.1 and a client certificate. */
export interface TestCerts {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** Makes TestCerts with openssl in a new temporary directory (remove `dir` when done). */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'swarm-kv-certs-'));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 60_000 });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr?.toString()}`);
  };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=swarm-test-ca', '-keyout', f('ca-key.pem'), '-out', f('ca.pem'));
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=swarm-test-${who}`, '-keyout', f(`${who}-key.pem`), '-out', f(`${who}.csr`));
    ssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '2', '-extfile', f(`${who}.ext`), '-out', f(`${who}.pem`));
  }
  return { dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server-key.pem'), clientCert: f('client.pem'), clientKey: f('client-key.pem') };
}

/** A child process that can be stopped (SIGTERM, then SIGKILL) and started again with the same command. */
class ManagedProcess {
  proc: ChildProcess | undefined;

  constructor(
    private readonly cmd: string,
    private readonly args: string[],
    private readonly logFile: string,
  ) {}

  start(): void {
    const fd = openSync(this.logFile, 'a');
    this.proc = spawn(this.cmd, this.args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const p = this.proc;
    live.add(p);
    p.once('exit', () => live.delete(p));
    p.unref();
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 8000);
    await exited;
    clearTimeout(timer);
  }
}

export async function startEtcd(options: { tls?: TestCerts } = {}): Promise<KVServer> {
  ensurePackage(ETCD_BIN, 'etcd-server');
  const dir = mkdtempSync(join(tmpdir(), 'swarm-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const tls = options.tls;
  const client = `${tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const proc = new ManagedProcess(
    ETCD_BIN,
    [
      '--name', 'swarm-test',
      '--data-dir', join(dir, 'data'),
      // With TLS, also on 127.0.0.2, an address the server certificate does not name.
      '--listen-client-urls', tls ? `${client},https://127.0.0.2:${clientPort}` : client,
      '--advertise-client-urls', client,
      '--listen-peer-urls', peer,
      '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `swarm-test=${peer}`,
      '--log-level', 'warn',
      ...(tls ? ['--cert-file', tls.serverCert, '--key-file', tls.serverKey, '--trusted-ca-file', tls.ca, '--client-cert-auth'] : []),
    ],
    join(dir, 'etcd.log'),
  );
  const start = async () => {
    proc.start();
    await waitUntil(`etcd on port ${clientPort}`, 30_000, async () => {
      if (tls) return (await tcpProbe(clientPort));
      const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
      return res.ok && ((await res.json()) as { health?: string }).health === 'true';
    }, () => proc.proc);
  };
  await start();
  return localServer('etcd', `127.0.0.1:${clientPort}`, proc, start, dir);
}

export async function startZooKeeper(options: { tickTimeMs?: number } = {}): Promise<KVServer> {
  ensurePackage(ZOOKEEPER_JAR, 'zookeeper');
  const dir = mkdtempSync(join(tmpdir(), 'swarm-zk-'));
  const port = await freePort();
  const tick = options.tickTimeMs ?? 500;
  const cfg = join(dir, 'zoo.cfg');
  writeFileSync(
    cfg,
    [
      `tickTime=${tick}`,
      `dataDir=${join(dir, 'data')}`,
      `clientPort=${port}`,
      'clientPortAddress=127.0.0.1',
      'maxClientCnxns=0',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr',
      // Session timeouts the server grants: [2, 20] × tickTime (ZooKeeper's defaults).
      `minSessionTimeout=${2 * tick}`,
      `maxSessionTimeout=${20 * tick}`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'log4j.properties'), 'log4j.rootLogger=WARN, CONSOLE\nlog4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\nlog4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\nlog4j.appender.CONSOLE.layout.ConversionPattern=%d %p %c{1} %m%n\n');
  const proc = new ManagedProcess(
    JAVA_BIN,
    ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Dzookeeper.jmx.log4j.disable=true', `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`, '-cp', `${dir}:${ZOOKEEPER_JAR}`, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfg],
    join(dir, 'zookeeper.log'),
  );
  const start = async () => {
    proc.start();
    await waitUntil(`ZooKeeper on port ${port}`, 60_000, async () => (await tcpSay(port, 'ruok')).includes('imok'), () => proc.proc);
  };
  await start();
  return localServer('zk', `127.0.0.1:${port}`, proc, start, dir);
}

/** A store process of ours: stop/kill/start/restart keep its port and data dir; destroy removes it. */
function localServer(kind: 'etcd' | 'zk', addr: string, proc: ManagedProcess, start: () => Promise<void>, dir: string): KVServer {
  return {
    kind,
    addr,
    restartable: true,
    stop: () => proc.stop(),
    kill: () => proc.stop('SIGKILL'),
    start,
    async restart(downMs = 0) {
      await proc.stop();
      if (downMs) await sleep(downMs);
      await start();
    },
    async destroy() {
      await proc.stop('SIGKILL');
      if (process.env.KV_KEEP_DIRS) console.error(`kept ${dir}`);
      else rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The Consul emulator, or the real Consul at CONSUL_HTTP_ADDR (not restartable). */
export async function startConsul(): Promise<KVServer & { emulator?: ConsulEmulator }> {
  const external = process.env.CONSUL_HTTP_ADDR;
  if (external) {
    const addr = external.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    const unsupported = async () => {
      throw new Error('cannot stop or restart an external Consul (CONSUL_HTTP_ADDR)');
    };
    return { kind: 'consul', addr, restartable: false, stop: unsupported, kill: unsupported, start: unsupported, restart: unsupported, destroy: async () => {} };
  }
  const emulator = await startConsulEmulator();
  return {
    kind: 'consul',
    addr: emulator.addr,
    restartable: true,
    emulator,
    stop: () => emulator.stop(),
    kill: () => emulator.stop(),
    start: () => emulator.start(),
    restart: (downMs = 0) => emulator.restart({ keepData: true, downMs }),
    destroy: () => emulator.stop(),
  };
}

export async function startKVServer(kind: 'etcd' | 'zk' | 'consul'): Promise<KVServer> {
  if (kind === 'etcd') return startEtcd();
  if (kind === 'zk') return startZooKeeper();
  return startConsul();
}

/** Records what an async iterable yields, with timestamps, and waits for a matching item. */
export class EventLog<E> {
  readonly events: Array<{ at: number; event: E }> = [];
  readonly done: Promise<void>;

  constructor(iterable: AsyncIterable<E>) {
    this.done = (async () => {
      for await (const event of iterable) this.events.push({ at: Date.now(), event });
    })();
  }

  /** The first item from index `from` on that matches, waiting up to `timeoutMs`. */
  async waitFor(what: string, match: (event: E) => boolean, timeoutMs: number, from = 0): Promise<{ at: number; event: E; index: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.events.length; i++) {
        const item = this.events[i]!;
        if (match(item.event)) return { ...item, index: i };
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; saw: ${JSON.stringify(this.events.slice(from).map((e) => e.event), (_k, v: unknown) => (v instanceof Error ? v.message : v))}`);
      }
      await sleep(25);
    }
  }
}

/** Calls `register` every `heartbeatMs` (like `swarm join`) until stopped. */
export function startRegistering(register: () => Promise<void>, heartbeatMs: number): { stop(): Promise<void>; readonly failures: number } {
  let stopped = false;
  let failures = 0;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      await register().catch(() => {
        failures += 1;
      });
      if (stopped) break;
      await new Promise<void>((r) => {
        const t = setTimeout(r, heartbeatMs);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
    get failures() {
      return failures;
    },
  };
}
