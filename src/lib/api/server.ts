/**
 * The manager's Docker-compatible HTTP API on node:http (Bun.serve cannot hijack connections for
 * attach/exec). The routes are the table in routes.ts; each answers bare and under `/v1.NN`.
 */
import http from 'node:http';
import https from 'node:https';
import type { TlsOptions } from 'node:tls';
import type { Duplex } from 'node:stream';
import { refusedClientVersion, stripVersionPrefix } from '../engine/version';
import { ApiError, errorMessage, errorStatus } from '../errors';
import { log } from '../log';
import { countUpgrade, METRICS_PATH, serveMetrics, trackRequest } from '../metrics/http';
import { CROSS_ORIGIN_REFUSED, DEFAULT_CONNECTION_LIMITS, isRefusedCrossOrigin, limitConnections, RefusalSummary } from './guard';
import { BODY_ABORTED, sendError, setBodyLimits, socketError } from './respond';
import { Router, type ApiContext } from './router';
import { ROUTES } from './routes';

function parseTarget(url: string | undefined): { path: string; search: string; query: URLSearchParams; version?: string } {
  const raw = url ?? '/';
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  const search = q < 0 ? '' : raw.slice(q);
  const { version, path } = stripVersionPrefix(pathname);
  return { path, search, query: new URLSearchParams(search), version };
}

function checkVersion(version: string | undefined): void {
  const refused = refusedClientVersion(version);
  if (refused) throw new ApiError(400, refused);
}

/**
 * With `tlsOptions` (--tls/--tlsverify) the server is node:https; upgrades (hijack) work the same.
 * `metrics`: also answer GET /metrics (unless --metrics-addr moved it to a listener of its own).
 */
export function createApiServer(api: ApiContext, tlsOptions?: TlsOptions, opts: { metrics?: boolean } = {}): http.Server {
  const router = new Router(ROUTES);
  setBodyLimits(api.bodyLimits ?? {});
  const summary = new RefusalSummary();
  const handler: http.RequestListener = async (req, res) => {
    const t = parseTarget(req.url);
    const method = req.method ?? 'GET';
    const tracker = trackRequest(req, res);
    res.setHeader('Api-Version', api.cluster.apiVersion());
    if (isRefusedCrossOrigin(req, api.cors)) {
      req.resume();
      summary.note('cross-origin');
      sendError(res, 403, CROSS_ORIGIN_REFUSED);
      return;
    }
    if (api.cors) {
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Access-Control-Allow-Headers', 'Origin, X-Requested-With, Content-Type, Accept');
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE, PUT, OPTIONS, HEAD');
      if (method === 'OPTIONS') {
        req.resume();
        res.writeHead(200);
        res.end();
        return;
      }
    }
    // Each manager's own metrics, replicas' included: not passed to the primary.
    if (opts.metrics && t.path === METRICS_PATH && t.version === undefined && (method === 'GET' || method === 'HEAD')) {
      tracker.route(METRICS_PATH);
      await serveMetrics(req, res, api);
      return;
    }
    // Replica (--replication, not the primary): everything but _ping/info/version goes to the primary.
    if (api.replica?.intercept(req, res, t.path)) return tracker.route(undefined, 'to-primary');
    try {
      checkVersion(t.version);
      const m = router.match(method, t.path);
      tracker.route(m?.route.pattern);
      if (!m) {
        req.resume();
        const allowed = router.methodsAt(t.path);
        if (allowed.length) {
          res.setHeader('Allow', allowed.join(', '));
          throw new ApiError(405, `method ${method} not allowed on ${t.path} (allowed: ${allowed.join(', ')})`);
        }
        throw new ApiError(404, 'page not found');
      }
      await m.route.handler({ ...api, req, res, params: m.params, query: t.query, path: t.path, search: t.search });
    } catch (err) {
      const status = errorStatus(err);
      if (!(err instanceof ApiError)) log.error('API handler failed', { method, path: t.path, error: errorMessage(err) });
      else log.debug('API error', { method, path: t.path, status, error: err.message });
      // The rest of an oversized or stalled body is never read: the connection cannot be reused.
      if (err instanceof ApiError && err.message === BODY_ABORTED) summary.note('body aborted');
      if (status === 413 || status === 408) {
        summary.note(status === 413 ? 'body too large' : 'body stalled');
        res.setHeader('Connection', 'close');
        res.once('finish', () => req.socket.destroy());
      }
      sendError(res, status, errorMessage(err));
    }
  };
  const server: http.Server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  if (tlsOptions) server.on('tlsClientError', (err: Error) => log.debug('TLS handshake with a client failed', { error: errorMessage(err) }));
  server.on('upgrade', async (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const t = parseTarget(req.url);
    if (isRefusedCrossOrigin(req, api.cors)) {
      summary.note('cross-origin');
      socketError(socket, 403, CROSS_ORIGIN_REFUSED);
      return;
    }
    if (api.replica?.interceptUpgrade(req, socket, head, t.path)) return;
    try {
      checkVersion(t.version);
      const m = router.match(req.method ?? 'GET', t.path);
      if (!m?.route.upgrade) throw new ApiError(404, 'page not found');
      await m.route.upgrade({ ...api, req, socket, head, params: m.params, query: t.query, path: t.path, search: t.search });
      countUpgrade(req.method, m.route.pattern, 101);
    } catch (err) {
      countUpgrade(req.method, undefined, errorStatus(err));
      socketError(socket, errorStatus(err), errorMessage(err));
    }
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
  });
  server.keepAliveTimeout = 60_000;
  // Headers must arrive within this; bodies are bounded by readBody's idle timeout, and long-lived
  // answers (logs -f, events, attach) are not requests still being received.
  server.headersTimeout = 60_000;
  limitConnections(server, api.connectionLimits ?? DEFAULT_CONNECTION_LIMITS, summary);
  return server;
}
