/**
 * The replica side of manager replication (spec §5): a manager that does not hold the leader lock
 * answers `/_ping`, `/info`, `/version` (and `/debug/...`) itself and passes every other request to
 * the primary — plain requests through a streaming HTTP proxy, hijacked ones (attach, exec start)
 * spliced byte for byte with half-close. With no primary known, or the known one unreachable, a
 * request waits up to the replication TTL + 2 s for a (new) primary, then fails with v1's 500 texts.
 *
 * A request proxied by a replica carries `X-Swarm-Replica-Hop`; a replica never passes such a
 * request on again (two replicas with stale views cannot bounce it between them).
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { openSocket, requestOverSocket, targetOf } from '../engine/http';
import type { EngineTls } from '../tls';
import { errorMessage } from '../errors';
import { log } from '../log';
import { NO_PRIMARY, PRIMARY_UNREACHABLE, type ElectionState, type RoleInfo } from '../manager/replication';
import { sendError, socketError } from './respond';

export const HOP_HEADER = 'x-swarm-replica-hop';

export type ReplicaRoute = { kind: 'local' } | { kind: 'proxy'; to: string } | { kind: 'wait' };

/** Paths (without `/v1.NN`) a replica answers itself. */
export function isReplicaLocalPath(path: string): boolean {
  return path === '/_ping' || path === '/info' || path === '/version' || path === '/debug' || path.startsWith('/debug/');
}

/** Where a request goes: served here, proxied to the primary, or held until a primary is known. */
export function routeRequest(path: string, s: { primary: boolean; leader: string | undefined; self: string; hopped: boolean }): ReplicaRoute {
  if (s.primary || isReplicaLocalPath(path)) return { kind: 'local' };
  if (s.hopped || !s.leader || s.leader === s.self) return { kind: 'wait' };
  return { kind: 'proxy', to: s.leader };
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function requestHeaders(h: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  out[HOP_HEADER] = '1';
  return out;
}

function responseHeaders(h: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

type Resolved = { kind: 'proxy'; to: string; socket: net.Socket } | { kind: 'fail'; message: string };

export class ReplicaGate {
  constructor(
    private readonly election: ElectionState,
    /** --tls/--tlsverify: how to reach the primary (same certificates as towards the engines). */
    private readonly tlsConfig?: EngineTls,
  ) {}

  roleInfo(): RoleInfo {
    if (this.election.isPrimary()) return { role: 'primary' };
    const l = this.election.leader();
    return l && l !== this.election.self ? { role: 'replica', primary: l } : { role: 'replica' };
  }

  private route(path: string, hopped: boolean): ReplicaRoute {
    return routeRequest(path, { primary: this.election.isPrimary(), leader: this.election.leader(), self: this.election.self, hopped });
  }

  /**
   * Waits (up to the TTL) for a reachable primary and connects to it. A manager that became
   * primary meanwhile connects to itself (its advertised address), so the request is served there.
   */
  private async resolve(path: string, hopped: boolean, signal: AbortSignal): Promise<Resolved> {
    const deadline = Date.now() + this.election.waitMs;
    let unreachable = false;
    for (;;) {
      if (signal.aborted) return { kind: 'fail', message: 'client went away' };
      const r = this.route(path, hopped);
      const to = r.kind === 'proxy' ? r.to : r.kind === 'local' ? this.election.self : undefined;
      if (to) {
        try {
          // v1 used the manager's own TLS config as client towards the primary.
          const socket = await openSocket(targetOf(to, this.tlsConfig), { allowHalfOpen: true, connectTimeoutMs: Math.max(500, Math.min(3000, deadline - Date.now())) });
          return { kind: 'proxy', to, socket };
        } catch (err) {
          unreachable = true;
          log.debug('Replica: primary unreachable', { primary: to, error: errorMessage(err) });
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) return { kind: 'fail', message: unreachable ? PRIMARY_UNREACHABLE : NO_PRIMARY };
      // Woken by a new leader or role; polled meanwhile in case a dead primary comes back.
      await this.election.waitForChange(AbortSignal.any([signal, AbortSignal.timeout(Math.min(left, 500))]));
    }
  }

  /** Takes over a plain request when this manager is a replica; false = serve it locally. */
  intercept(req: http.IncomingMessage, res: http.ServerResponse, path: string): boolean {
    const hopped = req.headers[HOP_HEADER] !== undefined;
    if (this.route(path, hopped).kind === 'local') return false;
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    void this.resolve(path, hopped, gone.signal).then((r) => {
      if (r.kind === 'fail') {
        req.resume();
        if (!gone.signal.aborted) sendError(res, 500, r.message);
        return;
      }
      this.proxyHttp(req, res, r.to, r.socket);
    });
    return true;
  }

  private proxyHttp(req: http.IncomingMessage, res: http.ServerResponse, to: string, socket: net.Socket): void {
    const up = requestOverSocket(socket, { method: req.method, path: req.url ?? '/', headers: requestHeaders(req.headers) });
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    up.on('response', (ures) => {
      res.writeHead(ures.statusCode ?? 502, responseHeaders(ures.headers));
      res.flushHeaders?.();
      ures.on('data', (chunk: Buffer) => res.write(chunk));
      ures.on('end', () => res.end());
      ures.on('error', () => res.destroy());
    });
    up.on('error', (err) => {
      log.debug('Replica: proxy to primary failed', { primary: to, error: errorMessage(err) });
      if (!res.headersSent) sendError(res, 500, PRIMARY_UNREACHABLE);
      else res.destroy();
    });
    if (req.complete && !req.readable) up.end();
    else req.pipe(up);
  }

  /** Takes over a hijack request (attach, exec start) when this manager is a replica. */
  interceptUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, path: string): boolean {
    const hopped = req.headers[HOP_HEADER] !== undefined;
    if (this.route(path, hopped).kind === 'local') return false;
    // Under bun the body of an upgrade request arrives as 'data' events on req: catch them now.
    const pending: Buffer[] = [];
    if (head?.length) pending.push(head);
    let upstream: net.Socket | undefined;
    let reqEnded = req.complete;
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (upstream) upstream.write(b);
      else pending.push(b);
    };
    if (!req.complete) {
      req.on('data', onData);
      req.once('end', () => {
        reqEnded = true;
        if (upstream) spliceClient();
      });
    }
    const gone = new AbortController();
    socket.on('close', () => gone.abort());
    socket.on('error', (err) => {
      log.debug('Replica: hijacked client socket error', { error: errorMessage(err) });
      gone.abort();
      upstream?.destroy();
    });
    let clientSpliced = false;
    const spliceClient = () => {
      if (clientSpliced || !upstream) return;
      clientSpliced = true;
      const up = upstream;
      socket.on('data', (d: Buffer) => up.write(d));
      socket.on('end', () => up.end());
    };
    void this.resolve(path, hopped, gone.signal).then((r) => {
      if (r.kind === 'fail') {
        if (!gone.signal.aborted) socketError(socket, 500, r.message);
        return;
      }
      const up = r.socket;
      up.setKeepAlive(true, 30_000);
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      lines.push(`X-Swarm-Replica-Hop: 1`);
      up.write(lines.join('\r\n') + '\r\n\r\n');
      for (const b of pending) up.write(b);
      pending.length = 0;
      upstream = up;
      if (reqEnded) spliceClient();
      up.on('data', (d: Buffer) => socket.write(d));
      up.on('end', () => socket.end());
      up.on('error', () => socket.destroy());
      up.on('close', () => {
        if (!socket.writableEnded) socket.destroy();
      });
      socket.on('close', () => {
        if (!up.destroyed) up.destroy();
      });
      if (gone.signal.aborted) up.destroy();
    });
    return true;
  }
}
