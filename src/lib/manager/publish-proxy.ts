/**
 * The publish proxy (--cluster-opt swarm.publish-proxy=true, beyond v1). Clients such as
 * Testcontainers dial a container's mapped port at the DOCKER_HOST address, but the port is published
 * on whichever node runs the container, and two nodes hand out the same ephemeral ports. So every
 * published port of a running container on a healthy node is also listened on at the manager's
 * address and forwarded to the node's port: TCP streamed with back-pressure (pipe), UDP per client
 * flow. The manager port is the node's port number when that is free here, else one the kernel picks.
 *
 * Listeners follow the engines' caches (events, refreshes): opened when a container runs, closed when
 * it stops, dies, is removed or its node is lost. A listener belongs to the container's swarm ID and
 * port, so a container rescheduled elsewhere (same com.docker.swarm.id) gets its manager port back.
 */
import dgram from 'node:dgram';
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import type { CachedContainer } from '../engine/engine';
import { errorMessage } from '../errors';
import { log } from '../log';
import { swarmIdOf } from './cluster';

/** What the proxy reads of an engine (Engine satisfies it). */
export interface ProxiedEngine {
  readonly addr: string;
  readonly ip: string;
  readonly name: string;
  isHealthy(): boolean;
  readonly containers: ReadonlyMap<string, CachedContainer>;
  readonly containersVersion: number;
}

export interface ProxiedCluster {
  registered(): ProxiedEngine[];
  readonly bus: EventEmitter;
}

export interface PublishProxyOptions {
  /** IP the listeners bind to, reported to clients (0.0.0.0: every interface). */
  addr: string;
  /** Open TCP connections plus UDP flows in all; beyond it new ones are refused. */
  maxConnections: number;
  /** A TCP connection idle this long is closed (0: never). */
  idleTimeoutMs: number;
  /** A UDP flow idle this long is forgotten (docker-proxy's 90 s). */
  udpIdleMs?: number;
  /** How often the caches are compared with the listeners besides events (ms). */
  resyncMs?: number;
}

/** The manager-side binding reported for a node's published port. */
export interface ManagerBinding {
  ip: string;
  port: number;
}

/** What the API asks of the proxy when it reports ports. */
export interface PortView {
  /** Waits until the listeners match the caches (so a start just answered is already proxied). */
  settle(): Promise<void>;
  /** The manager-side binding of a node's published port, when it is proxied. */
  managerBinding(engine: { addr: string; ip: string }, proto: string, hostIp: string | undefined, hostPort: number): ManagerBinding | undefined;
}

type Proto = 'tcp' | 'udp';

interface Target {
  host: string;
  port: number;
}

/** One published port that should be listened on. */
interface Wanted {
  /** `<swarm id or container id>|<port>/<proto>|<n>`: stays with a container that is rescheduled. */
  logical: string;
  proto: Proto;
  engineAddr: string;
  target: Target;
  nodePort: number;
  container: string;
  created: number;
}

interface Listener {
  logical: string;
  proto: Proto;
  engineAddr: string;
  target: Target;
  port: number;
  container: string;
  close(): void;
}

const LIVE_STATES = new Set(['running', 'paused']);
/** Remembered manager ports of closed listeners (for restarts and rescheduling), oldest dropped first. */
const REMEMBERED_PORTS = 10_000;

/** A node-side host IP the manager can reach: wildcard → the node's IP; loopback → none. */
function targetHost(hostIp: string | undefined, nodeIp: string): string | undefined {
  if (!hostIp || hostIp === '0.0.0.0' || hostIp === '::') return nodeIp;
  if (hostIp.startsWith('127.') || hostIp === '::1') return undefined;
  return hostIp;
}

function targetKey(engineAddr: string, proto: string, host: string, port: number): string {
  return `${engineAddr}|${proto}|${host}|${port}`;
}

/** The published ports of a running container, as the node binds them (deduplicated, reachable only). */
function publishedPorts(c: CachedContainer, nodeIp: string): { containerPort: string; proto: Proto; target: Target }[] {
  const found: { containerPort: string; proto: Proto; target: Target }[] = [];
  const add = (containerPort: string, proto: string, hostIp: string | undefined, hostPort: number) => {
    if (proto !== 'tcp' && proto !== 'udp') return; // sctp: not proxied
    if (!Number.isInteger(hostPort) || hostPort <= 0 || hostPort > 65535) return;
    const host = targetHost(hostIp, nodeIp);
    if (!host) return;
    if (found.some((f) => f.proto === proto && f.target.host === host && f.target.port === hostPort)) return;
    found.push({ containerPort, proto, target: { host, port: hostPort } });
  };
  const ports = c.inspect?.NetworkSettings?.Ports;
  if (ports && typeof ports === 'object') {
    for (const [key, list] of Object.entries(ports)) {
      const [port = '', proto = 'tcp'] = key.split('/');
      for (const b of list ?? []) add(`${port}/${proto}`, proto, b.HostIp, Number(b.HostPort));
    }
  } else {
    for (const p of c.summary?.Ports ?? []) {
      if (p.PublicPort) add(`${p.PrivatePort}/${p.Type ?? 'tcp'}`, p.Type ?? 'tcp', p.IP, p.PublicPort);
    }
  }
  return found.sort((a, b) => a.target.port - b.target.port);
}

/** Every published port that should be proxied now: running containers on healthy nodes. */
function wantedPorts(engines: ProxiedEngine[]): Map<string, Wanted> {
  const wanted = new Map<string, Wanted>();
  for (const e of engines) {
    if (!e.isHealthy()) continue;
    for (const c of e.containers.values()) {
      const state = c.inspect?.State?.Status ?? c.summary?.State ?? '';
      if (!LIVE_STATES.has(state)) continue;
      const counts = new Map<string, number>();
      for (const p of publishedPorts(c, e.ip)) {
        const n = counts.get(p.containerPort) ?? 0;
        counts.set(p.containerPort, n + 1);
        const w: Wanted = {
          logical: `${swarmIdOf(c) || c.id}|${p.containerPort}|${n}`,
          proto: p.proto,
          engineAddr: e.addr,
          target: p.target,
          nodePort: p.target.port,
          container: c.id,
          created: c.summary?.Created ?? 0,
        };
        // Two copies of one swarm ID (a rescheduled container and its stale original): the newest.
        const had = wanted.get(w.logical);
        if (!had || had.created < w.created) wanted.set(w.logical, w);
      }
    }
  }
  return wanted;
}

export class PublishProxy implements PortView {
  private readonly listeners = new Map<string, Listener>();
  private readonly byTarget = new Map<string, Listener>();
  private readonly lastPorts = new Map<string, number>();
  /** Ports that could not be listened on, warned about once (they are retried every resync). */
  private readonly failing = new Set<string>();
  private open = 0;
  private refused = 0;
  private signature = '';
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  private readonly onBus = () => void this.reconcile();

  constructor(
    private readonly cluster: ProxiedCluster,
    readonly opts: PublishProxyOptions,
  ) {}

  start(): void {
    this.cluster.bus.on('event', this.onBus);
    this.timer = setInterval(() => void this.reconcile(), this.opts.resyncMs ?? 1000);
    this.timer.unref?.();
    log.info('Publish proxy on', { addr: this.opts.addr, maxConnections: this.opts.maxConnections });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cluster.bus.off('event', this.onBus);
    if (this.timer) clearInterval(this.timer);
    await this.chain;
    for (const l of [...this.listeners.values()]) this.closeListener(l);
  }

  settle(): Promise<void> {
    return this.reconcile();
  }

  /** Open TCP connections and UDP flows now (for tests and logs). */
  get connections(): number {
    return this.open;
  }

  /** The listeners now: manager port → node target. */
  list(): { port: number; proto: Proto; target: string; container: string }[] {
    return [...this.listeners.values()].map((l) => ({ port: l.port, proto: l.proto, target: `${l.target.host}:${l.target.port}`, container: l.container }));
  }

  managerBinding(engine: { addr: string; ip: string }, proto: string, hostIp: string | undefined, hostPort: number): ManagerBinding | undefined {
    const host = targetHost(hostIp, engine.ip);
    if (!host) return undefined;
    const l = this.byTarget.get(targetKey(engine.addr, proto || 'tcp', host, hostPort));
    return l ? { ip: this.opts.addr, port: l.port } : undefined;
  }

  /** Brings the listeners in line with the caches; calls made while one runs share the next run. */
  reconcile(): Promise<void> {
    if (this.queued) return this.queued;
    const next = this.chain.then(async () => {
      this.queued = undefined;
      if (this.stopped) return;
      try {
        await this.reconcileOnce();
      } catch (err) {
        log.error('Publish proxy could not update its listeners', { error: errorMessage(err) });
      }
    });
    this.queued = next;
    this.chain = next;
    return next;
  }

  private async reconcileOnce(): Promise<void> {
    const engines = this.cluster.registered();
    const signature = engines.map((e) => `${e.addr}:${e.containersVersion}:${e.isHealthy() ? 1 : 0}`).join(',');
    if (signature === this.signature) return;
    const wanted = wantedPorts(engines);
    for (const l of [...this.listeners.values()]) {
      const w = wanted.get(l.logical);
      if (!w || w.proto !== l.proto) this.closeListener(l);
    }
    let failed = false;
    for (const w of wanted.values()) {
      const l = this.listeners.get(w.logical);
      if (l) {
        if (l.engineAddr !== w.engineAddr || l.target.host !== w.target.host || l.target.port !== w.target.port) this.repoint(l, w);
        continue;
      }
      if (!(await this.openListener(w))) failed = true;
    }
    // A listener that could not be opened is tried again on the next run.
    this.signature = failed ? '' : signature;
  }

  private repoint(l: Listener, w: Wanted): void {
    this.byTarget.delete(targetKey(l.engineAddr, l.proto, l.target.host, l.target.port));
    const from = `${l.target.host}:${l.target.port}`;
    l.engineAddr = w.engineAddr;
    l.target = w.target;
    l.container = w.container;
    this.byTarget.set(targetKey(w.engineAddr, w.proto, w.target.host, w.target.port), l);
    log.info('Published port re-pointed', { port: `${this.opts.addr}:${l.port}/${l.proto}`, from, to: `${w.target.host}:${w.target.port}`, container: w.container.slice(0, 12) });
  }

  private closeListener(l: Listener): void {
    this.listeners.delete(l.logical);
    const key = targetKey(l.engineAddr, l.proto, l.target.host, l.target.port);
    if (this.byTarget.get(key) === l) this.byTarget.delete(key);
    this.remember(l.logical, l.port);
    l.close();
    log.debug('Published port closed', { port: `${this.opts.addr}:${l.port}/${l.proto}`, container: l.container.slice(0, 12) });
  }

  private remember(logical: string, port: number): void {
    this.lastPorts.delete(logical);
    this.lastPorts.set(logical, port);
    if (this.lastPorts.size > REMEMBERED_PORTS) this.lastPorts.delete(this.lastPorts.keys().next().value!);
  }

  /** Listens on the port last used for this container port, else the node's number, else any free one. */
  private async openListener(w: Wanted): Promise<boolean> {
    const choices = [...new Set([this.lastPorts.get(w.logical), w.nodePort, 0].filter((p): p is number => p !== undefined))];
    let lastError: unknown;
    for (const port of choices) {
      try {
        const l = w.proto === 'tcp' ? await this.listenTcp(w, port) : await this.listenUdp(w, port);
        this.listeners.set(w.logical, l);
        this.byTarget.set(targetKey(w.engineAddr, w.proto, w.target.host, w.target.port), l);
        this.remember(w.logical, l.port);
        this.failing.delete(w.logical);
        log.info('Published port proxied', { port: `${this.opts.addr}:${l.port}/${w.proto}`, to: `${w.target.host}:${w.target.port}`, container: w.container.slice(0, 12) });
        return true;
      } catch (err) {
        lastError = err;
      }
    }
    if (this.failing.has(w.logical)) return false;
    if (this.failing.size > REMEMBERED_PORTS) this.failing.clear();
    this.failing.add(w.logical);
    log.warn('Published port could not be proxied, will retry', { to: `${w.target.host}:${w.target.port}/${w.proto}`, error: errorMessage(lastError) });
    return false;
  }

  private admit(): boolean {
    if (this.open >= this.opts.maxConnections) {
      if (this.refused++ % 100 === 0) log.warn('Publish proxy connection limit reached, refusing', { limit: this.opts.maxConnections, refused: this.refused });
      return false;
    }
    this.open++;
    return true;
  }

  private listenTcp(w: Wanted, port: number): Promise<Listener> {
    const pairs = new Set<net.Socket>();
    const listener: Listener = {
      logical: w.logical,
      proto: 'tcp',
      engineAddr: w.engineAddr,
      target: w.target,
      port,
      container: w.container,
      close: () => {
        server.close();
        for (const s of pairs) s.destroy();
      },
    };
    const server = net.createServer({ allowHalfOpen: true }, (client) => {
      if (!this.admit()) {
        client.destroy();
        return;
      }
      const { host, port: targetPort } = listener.target;
      const upstream = net.connect({ host, port: targetPort, allowHalfOpen: true });
      pairs.add(client);
      pairs.add(upstream);
      let closed = 0;
      const onClose = () => {
        if (++closed === 2) this.open--;
      };
      // Only errors tear both sides down: a normal close of one side may leave the other still
      // flushing, and pipe() passes each half-close (FIN) on by itself.
      const fail = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', fail);
      upstream.on('error', fail);
      client.on('close', () => {
        pairs.delete(client);
        onClose();
      });
      upstream.on('close', () => {
        pairs.delete(upstream);
        onClose();
      });
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      if (this.opts.idleTimeoutMs > 0) client.setTimeout(this.opts.idleTimeoutMs, fail);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host: this.opts.addr }, () => {
        server.off('error', reject);
        server.on('error', (err) => log.warn('Publish proxy listener error', { port: listener.port, error: errorMessage(err) }));
        listener.port = (server.address() as net.AddressInfo).port;
        resolve(listener);
      });
    });
  }

  private listenUdp(w: Wanted, port: number): Promise<Listener> {
    const type = net.isIPv6(this.opts.addr) ? 'udp6' : 'udp4';
    const socket = dgram.createSocket({ type });
    const idleMs = this.opts.idleTimeoutMs > 0 ? this.opts.idleTimeoutMs : (this.opts.udpIdleMs ?? 90_000);
    interface Flow {
      upstream: dgram.Socket;
      target: Target;
      seen: number;
    }
    const flows = new Map<string, Flow>();
    const drop = (key: string, f: Flow) => {
      if (flows.get(key) !== f) return;
      flows.delete(key);
      f.upstream.close();
      this.open--;
    };
    const sweep = setInterval(() => {
      const now = Date.now();
      for (const [key, f] of flows) if (now - f.seen > idleMs) drop(key, f);
    }, Math.max(250, Math.min(idleMs / 3, 10_000)));
    sweep.unref?.();
    const listener: Listener = {
      logical: w.logical,
      proto: 'udp',
      engineAddr: w.engineAddr,
      target: w.target,
      port,
      container: w.container,
      close: () => {
        clearInterval(sweep);
        for (const [key, f] of flows) drop(key, f);
        socket.close();
      },
    };
    socket.on('message', (msg, rinfo) => {
      const key = `${rinfo.address}|${rinfo.port}`;
      let flow = flows.get(key);
      if (!flow) {
        if (!this.admit()) return;
        const target = listener.target;
        const upstream = dgram.createSocket({ type: net.isIPv6(target.host) ? 'udp6' : 'udp4' });
        const f: Flow = { upstream, target, seen: Date.now() };
        upstream.on('message', (reply) => {
          f.seen = Date.now();
          try {
            socket.send(reply, rinfo.port, rinfo.address);
          } catch {
            drop(key, f); // the listener closed meanwhile
          }
        });
        upstream.on('error', () => drop(key, f));
        flows.set(key, f);
        flow = f;
      }
      flow.seen = Date.now();
      flow.upstream.send(msg, flow.target.port, flow.target.host);
    });
    return new Promise((resolve, reject) => {
      socket.once('error', (err) => {
        clearInterval(sweep);
        reject(err);
      });
      socket.bind({ port, address: this.opts.addr, exclusive: true }, () => {
        socket.removeAllListeners('error');
        socket.on('error', (err) => log.warn('Publish proxy UDP listener error', { port: listener.port, error: errorMessage(err) }));
        listener.port = socket.address().port;
        resolve(listener);
      });
    });
  }
}
