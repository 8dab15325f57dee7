/**
 * `/metrics` over HTTP: the answer itself, the per-request accounting of the API server, and the
 * listener of its own that `--metrics-addr` starts.
 */
import http from 'node:http';
import https from 'node:https';
import type { TlsOptions } from 'node:tls';
import { errorMessage } from '../errors';
import { log } from '../log';
import { eventListenerCount } from '../api/system';
import type { ReplicaGate } from '../api/replica';
import type { Placer } from '../manager/scheduling';
import { sampleCluster } from './cluster-sample';
import { countApiRequest, METRICS_CONTENT_TYPE, metricsText, observeApiLatency, type RequestLabels } from './metrics';

export const METRICS_PATH = '/metrics';

/** The class of an API route pattern: its first path segment, grouped as the README's table does. */
export function routeClass(pattern: string | undefined): string {
  if (pattern === undefined) return 'unknown';
  const first = pattern.split('/')[1] ?? '';
  switch (first) {
    case 'containers':
    case 'exec':
    case 'images':
    case 'networks':
    case 'volumes':
    case 'build':
    case 'metrics':
      return first;
    case '_ping':
    case 'version':
    case 'info':
    case 'events':
    case 'auth':
    case 'system':
      return 'system';
    case '_swarm':
      return 'nodes';
    case 'session':
    case 'grpc':
      return 'buildkit';
    default:
      return 'other';
  }
}

/** A route pattern as a label: `/containers/{name*}/start` → `/containers/:name/start`. */
export function routeLabel(pattern: string | undefined): string {
  return pattern === undefined ? 'unknown' : pattern.replace(/\{(\w+)\*?\}/g, ':$1');
}

export interface RequestTracker {
  /** The route that answers (its pattern), once known; never called: 'unknown'. */
  route(pattern: string | undefined, cls?: string): void;
}

/**
 * Counts the request by route and status when its answer ends, and records the time until its
 * headers went out (a streamed answer such as `logs -f` or `events` would otherwise count its whole life).
 */
export function trackRequest(req: http.IncomingMessage, res: http.ServerResponse): RequestTracker {
  const started = performance.now();
  const labels: RequestLabels = { class: 'unknown', route: 'unknown', method: req.method ?? 'GET' };
  const writeHead = res.writeHead;
  let timed = false;
  res.writeHead = function (this: http.ServerResponse, ...args: Parameters<http.ServerResponse['writeHead']>) {
    if (!timed) {
      timed = true;
      observeApiLatency(labels, (performance.now() - started) / 1000);
    }
    return writeHead.apply(this, args);
  } as http.ServerResponse['writeHead'];
  let counted = false;
  const count = () => {
    if (counted) return;
    counted = true;
    countApiRequest(labels, res.headersSent ? res.statusCode : 'aborted');
  };
  res.once('finish', count);
  res.once('close', count);
  return {
    route(pattern, cls) {
      labels.route = routeLabel(pattern);
      labels.class = cls ?? routeClass(pattern);
    },
  };
}

/** Counts a hijacked request (attach, exec start): 101 once handed to the engine, else its error status. */
export function countUpgrade(method: string | undefined, pattern: string | undefined, status: number): void {
  countApiRequest({ class: routeClass(pattern), route: routeLabel(pattern), method: method ?? 'GET' }, status);
}

/** What /metrics reads besides the counters: the cluster (with its reservations) and this manager's role. */
export interface MetricsSource {
  placer: Placer;
  replica?: ReplicaGate;
}

/** Answers GET /metrics (HEAD: headers only). */
export async function serveMetrics(req: http.IncomingMessage, res: http.ServerResponse, source: MetricsSource): Promise<void> {
  req.resume();
  let text: string;
  try {
    text = await metricsText(sampleCluster(source.placer, source.replica?.roleInfo().role ?? 'primary', eventListenerCount()));
  } catch (err) {
    log.error('Metrics could not be collected', { error: errorMessage(err) });
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(`${errorMessage(err)}\n`);
    return;
  }
  res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/** The listener of `--metrics-addr`: GET /metrics and nothing else, with the API's TLS settings. */
export function createMetricsServer(source: MetricsSource, tlsOptions?: TlsOptions): http.Server {
  const handler: http.RequestListener = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const tracker = trackRequest(req, res);
    tracker.route(path === METRICS_PATH ? METRICS_PATH : undefined);
    if (path === METRICS_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
      void serveMetrics(req, res, source);
      return;
    }
    req.resume();
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  };
  const server = tlsOptions ? https.createServer(tlsOptions, handler) : http.createServer(handler);
  if (tlsOptions) server.on('tlsClientError', (err: Error) => log.debug('TLS handshake with a metrics client failed', { error: errorMessage(err) }));
  return server;
}
