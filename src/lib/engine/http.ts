/**
 * Minimal Docker Engine API client over node:http: buffered JSON calls for the cache, raw requests for
 * streams. Plain node:http keeps proxying byte-exact and costs nothing at startup.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { parseHostPort, isHostPortError } from '../address';
import { clientTlsOptions, explainEngineTlsError, type EngineTls } from '../tls';

export interface EngineTarget {
  host: string;
  port: number;
  /** Set when the manager runs with --tls/--tlsverify: every connection to the engine is TLS. */
  tls?: EngineTls;
}

export function targetOf(addr: string, engineTls?: EngineTls): EngineTarget {
  const hp = parseHostPort(addr);
  if (isHostPortError(hp)) throw new Error(hp.error);
  return engineTls ? { ...hp, tls: engineTls } : hp;
}

/** An HTTP(S) request to the engine (host and port from the target). */
export function engineRequest(target: EngineTarget, options: http.RequestOptions): http.ClientRequest {
  if (!target.tls) return http.request({ ...options, host: target.host, port: target.port });
  return https.request({ ...clientTlsOptions(target.tls, target.host), ...options, host: target.host, port: target.port });
}

/** A raw (TLS) connection to the engine for hijacked streams; listen for connectEvent(target). */
export function connectEngine(target: EngineTarget, opts: { allowHalfOpen?: boolean } = {}): net.Socket {
  if (!target.tls) return net.connect({ host: target.host, port: target.port, ...opts });
  return tls.connect({ ...clientTlsOptions(target.tls, target.host), host: target.host, port: target.port, ...opts });
}

/** The event after which a connectEngine socket may be written: the TLS handshake must be done. */
export function connectEvent(target: EngineTarget): 'connect' | 'secureConnect' {
  return target.tls ? 'secureConnect' : 'connect';
}

/** An HTTP error answered by an engine: keeps its status and message. */
export class EngineHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface CallOptions {
  body?: unknown;
  /** Raw request body (already encoded). */
  raw?: Buffer | string;
  /** Writes the body itself (a streamed upload) instead of `raw`/`body`; called as the request starts. */
  bodyWriter?: (req: http.ClientRequest) => void;
  headers?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /**
   * callJson over fetch (plain TCP targets): about a third of node:http's CPU per call (~90 µs
   * against ~250 µs for a 6 KB inspect). It has no connect timeout of its own (only timeoutMs), so
   * it is for engines known to answer.
   */
  pooled?: boolean;
}

/** The message in an engine's error body (JSON `{"message"}` or plain text). */
export function errorBodyMessage(body: Buffer | string): string {
  const text = body.toString().trim();
  try {
    const j = JSON.parse(text) as { message?: string };
    if (j && typeof j.message === 'string') return j.message;
  } catch {
    /* plain text */
  }
  return text;
}

/** How long a TCP connect to an engine may take (engines sit on the same network as the manager). */
export const CONNECT_TIMEOUT_MS = 5_000;

/** Starts a request; the caller handles the response (streams). */
export function openRequest(target: EngineTarget, method: string, path: string, opts: CallOptions = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let payload: Buffer | string | undefined = opts.raw;
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) {
      payload = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json';
    }
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    const req = engineRequest(target, { method, path, headers, signal: opts.signal });
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => {
        const err = new Error(`request to ${target.host}:${target.port} timed out`) as NodeJS.ErrnoException;
        err.code = 'ETIMEDOUT';
        req.destroy(err);
      }, opts.timeoutMs);
    }
    // An engine whose link is cut answers nothing, not even a reset: fail the connect early so the
    // engine turns Unhealthy in seconds rather than after the whole request timeout.
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(() => {
        const err = new Error(`connect to ${target.host}:${target.port} timed out after ${CONNECT_TIMEOUT_MS / 1000}s`) as NodeJS.ErrnoException;
        err.code = 'ETIMEDOUT';
        req.destroy(err);
      }, CONNECT_TIMEOUT_MS);
      socket.once('connect', () => clearTimeout(connectTimer));
      socket.once('close', () => clearTimeout(connectTimer));
    });
    req.on('response', (res) => {
      if (timer) clearTimeout(timer);
      resolve(res);
    });
    req.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(target.tls ? explainEngineTlsError(err, `${target.host}:${target.port}`) : err);
    });
    if (opts.bodyWriter) opts.bodyWriter(req);
    else req.end(payload);
  });
}

export async function readAll(res: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer | string>) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/** A buffered call; never throws on HTTP errors (see callJson for that). */
export async function call(target: EngineTarget, method: string, path: string, opts: CallOptions = {}): Promise<RawResponse> {
  const res = await openRequest(target, method, path, opts);
  const body = await readAll(res);
  return { status: res.statusCode ?? 0, headers: res.headers, body };
}

/**
 * A buffered JSON call: resolves the decoded body on 2xx (undefined when empty), throws EngineHttpError
 * otherwise. The body is cast to T, not validated: T is the engine's wire contract (docker-types.ts).
 */
export async function callJson<T = unknown>(target: EngineTarget, method: string, path: string, opts: CallOptions = {}): Promise<T> {
  if (opts.pooled && !target.tls && !opts.bodyWriter) return fetchJson<T>(target, method, path, opts);
  const r = await call(target, method, path, opts);
  if (r.status < 200 || r.status >= 300) throw new EngineHttpError(r.status, errorBodyMessage(r.body) || `HTTP ${r.status}`);
  const text = r.body.toString();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Headers fetch sets itself (or refuses): the rest are passed on. */
const FETCH_OWN = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive', 'expect']);

/** The request as fetch makes it; the answer as text (decoded once). */
async function fetchText(target: EngineTarget, method: string, path: string, opts: CallOptions): Promise<{ res: Response; text: string }> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (!FETCH_OWN.has(k.toLowerCase())) headers[k] = v;
  let body: string | Buffer | undefined = opts.raw;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['Content-Type'] = 'application/json';
  }
  // A GET or HEAD carries no body (fetch refuses one, even empty).
  if ((method === 'GET' || method === 'HEAD') && body !== undefined && Buffer.byteLength(body) === 0) body = undefined;
  const signals = [opts.signal, opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined);
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  try {
    // Bun's own idle timeout (5 minutes by default) would end a call that may wait longer (timeoutMs 0).
    const res = await fetch(`http://${host}:${target.port}${path}`, { method, headers, body, redirect: 'manual', signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0], timeout: opts.timeoutMs ? opts.timeoutMs : false });
    return { res, text: await res.text() };
  } catch (err) {
    if ((err as Error)?.name === 'TimeoutError') throw Object.assign(new Error(`request to ${target.host}:${target.port} timed out`), { code: 'ETIMEDOUT' });
    throw err;
  }
}

async function fetchJson<T>(target: EngineTarget, method: string, path: string, opts: CallOptions): Promise<T> {
  const { res, text } = await fetchText(target, method, path, opts);
  if (res.status < 200 || res.status >= 300) throw new EngineHttpError(res.status, errorBodyMessage(text) || `HTTP ${res.status}`);
  return (text ? JSON.parse(text) : undefined) as T;
}
