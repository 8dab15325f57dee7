/**
 * One engine on the network: its listener and connections, the latency it adds, the simulator's
 * own /_sim/ routes, and being taken off the network and put back (state kept).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendEmpty, sendError, sendJson, routeOf } from './http';
import { route } from './routes';
import type { EngineState } from './state';
import { attach } from './streams';

/** What every engine of one simulator shares: the call counter and the engines (for /_sim). */
export interface Shared {
  engines: SimEngine[];
  calls: Map<string, number>;
  /** TCP connections accepted (a client that keeps its connections alive opens few). */
  connections: number;
}

export class SimEngine {
  port: number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Headers every answer carries (dockerd's). */
  private readonly headers: Record<string, string>;

  constructor(
    readonly state: EngineState,
    private readonly shared: Shared,
  ) {
    const p = state.p;
    this.port = state.cfg.port;
    this.headers = { 'Api-Version': p.apiVersion, 'Docker-Experimental': 'false', Ostype: 'linux', Server: `Docker/${p.version} (linux)` };
  }

  get addr(): string {
    return `${this.state.cfg.host}:${this.port}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer({ keepAlive: true }, (req, res) => this.onRequest(req, res));
      server.keepAliveTimeout = 120_000;
      server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
        this.track(socket);
        socket.on('error', () => undefined);
        attach(this.state, req, socket);
      });
      server.on('connection', (s: Socket) => {
        this.shared.connections++;
        this.track(s);
      });
      server.once('error', reject);
      server.listen(this.port, this.state.cfg.host, () => {
        server.off('error', reject);
        const a = server.address();
        if (a && typeof a === 'object') this.port = a.port;
        this.server = server;
        resolve();
      });
    });
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
  }

  /** Closes the port, every connection and every event stream. */
  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.state.events.close();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    for (const [k, v] of Object.entries(this.headers)) res.setHeader(k, v);
    const url = req.url ?? '/';
    if (url.startsWith('/_sim/')) return this.simRoute(req, res, url);
    const r = routeOf(req.method ?? 'GET', url);
    this.shared.calls.set(r, (this.shared.calls.get(r) ?? 0) + 1);
    const { latencyMs, jitterMs } = this.state.cfg;
    if (latencyMs > 0 || jitterMs > 0) {
      const delay = Math.max(0, latencyMs + (Math.random() * 2 - 1) * jitterMs);
      setTimeout(() => this.dispatch(req, res), delay);
    } else this.dispatch(req, res);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    try {
      const r = route(this.state, req, res, this.sockets.size);
      if (r instanceof Promise) r.catch((e: unknown) => sendError(res, e));
    } catch (e) {
      sendError(res, e);
    }
  }

  /**
   * The simulator's own routes (not counted, not Docker's): `GET /_sim/calls` the Engine API calls
   * every engine of this simulator answered, by route (`DELETE` resets them); `GET /_sim/engines`
   * each engine's capacity and what its containers reserve.
   */
  private simRoute(req: IncomingMessage, res: ServerResponse, url: string): void {
    req.resume();
    const path = url.split('?')[0];
    const { calls, engines } = this.shared;
    if (path === '/_sim/calls' && req.method === 'DELETE') {
      calls.clear();
      this.shared.connections = 0;
      return sendEmpty(res, 204);
    }
    if (path === '/_sim/calls' && req.method === 'GET') {
      let total = 0;
      for (const n of calls.values()) total += n;
      return sendJson(res, 200, { total, connections: this.shared.connections, routes: Object.fromEntries([...calls].sort((a, b) => b[1] - a[1])) });
    }
    if (path === '/_sim/engines' && req.method === 'GET') return sendJson(res, 200, engines.map((e) => e.state.usage(e.addr)));
    sendJson(res, 404, { message: 'page not found' });
  }
}
