/**
 * The one HTTP transport of the manager and its commands, towards engines and peers (the primary
 * manager, a manager's `/_swarm` routes, the token discovery service): target parsing (tcp, unix,
 * TLS), the connect timeout, request timeouts, one keep-alive agent per target and TLS identity,
 * and typed failures: `TransportError` (with a `kind` that health accounting decides on) and
 * `EngineHttpError` (the peer answered with an HTTP error). Plain node:http keeps proxying
 * byte-exact and costs nothing at startup; raw sockets for hijacked streams come from here too.
 * dockerode (engineDocker) is built over the same agents and TLS options.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type Docker from 'dockerode';
import { parseHostPort, isHostPortError } from '../address';
import type { ListenAddress } from '../listen';
import { clientTlsOptions, explainEngineTlsError, type ClientTls } from '../tls';

export interface EngineTarget {
  host: string;
  port: number;
  /** A unix socket instead of host:port (a manager's `-H unix://…`); host and port then only name it. */
  socketPath?: string;
  /** Set for TLS (the manager with --tls/--tlsverify towards engines and the primary, https URLs). */
  tls?: ClientTls;
}

/** `host:port` (an engine, the primary), TLS when `clientTls` is given. */
export function targetOf(addr: string, clientTls?: ClientTls): EngineTarget {
  const hp = parseHostPort(addr);
  if (isHostPortError(hp)) throw new Error(hp.error);
  return clientTls ? { ...hp, tls: clientTls } : hp;
}

/** A `-H` address (tcp or unix); TLS only over tcp. */
export function listenTarget(addr: ListenAddress, clientTls?: ClientTls): EngineTarget {
  if (addr.kind === 'unix') return { host: 'localhost', port: 0, socketPath: addr.path };
  return clientTls ? { host: addr.host, port: addr.port, tls: clientTls } : { host: addr.host, port: addr.port };
}

/** An `http://` or `https://` base URL: its target (https: TLS verified against the system CAs) and path prefix. */
export function urlTarget(url: string): { target: EngineTarget; prefix: string } {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : secure ? 443 : 80;
  return { target: secure ? { host, port, tls: { verify: true } } : { host, port }, prefix: u.pathname.replace(/\/+$/, '') };
}

function describe(target: EngineTarget): string {
  return target.socketPath ?? (target.host.includes(':') ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`);
}

// ---- errors ---------------------------------------------------------------------------------------

/**
 * Why a request got no HTTP answer. connect: the peer could not be reached; timeout: it took longer
 * than allowed (connect or request); reset: the connection broke (or a stream ended that should not);
 * tls: the handshake failed; protocol: the peer answered something that is not HTTP (or not JSON).
 */
export type TransportErrorKind = 'connect' | 'timeout' | 'reset' | 'tls' | 'protocol';

export class TransportError extends Error {
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    /** The system error code, when there was one (ECONNREFUSED, ETIMEDOUT, …). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'TransportError';
  }
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

const CONNECT_CODES = new Set(['ECONNREFUSED', 'ConnectionRefused', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'ENOENT', 'EACCES']);
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ConnectionClosed', 'ERR_STREAM_PREMATURE_CLOSE']);
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|ERR_OSSL)/;

/**
 * Any failure of a request or socket towards `target` as a TransportError (kept as it is when it
 * already is one, or an EngineHttpError, or the caller's own abort). Decided on the error's code;
 * for TLS targets a handshake failure also says why (explainEngineTlsError).
 */
export function transportError(err: unknown, target: EngineTarget): unknown {
  if (err instanceof TransportError || err instanceof EngineHttpError) return err;
  if (!(err instanceof Error)) return new TransportError('protocol', String(err));
  if (err.name === 'AbortError' || (err as NodeJS.ErrnoException).code === 'ABORT_ERR') return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (err.name === 'TimeoutError' || code === 'ETIMEDOUT') return new TransportError('timeout', err.message, code || 'ETIMEDOUT');
  if (CONNECT_CODES.has(code)) return new TransportError('connect', err.message, code);
  if (RESET_CODES.has(code)) return new TransportError('reset', err.message, code);
  if (target.tls) {
    const explained = explainEngineTlsError(err, describe(target));
    if (explained !== err || TLS_CODE.test(code)) return new TransportError('tls', (explained as Error).message, code || undefined);
  } else if (TLS_CODE.test(code)) return new TransportError('tls', err.message, code);
  return new TransportError('protocol', err.message, code || undefined);
}

// ---- connections ----------------------------------------------------------------------------------

/** How long a TCP connect may take (engines and managers sit on the same network as the manager). */
const CONNECT_TIMEOUT_MS = 5_000;

/** A buffered call's default bound (an engine's create may pull for a while: callers pass longer ones). */
export const REQUEST_TIMEOUT_MS = 30_000;

const agents = new Map<string, http.Agent>();
const tlsIds = new WeakMap<ClientTls, number>();
let nextTlsId = 1;

/** The keep-alive agent of a target (one per address and TLS identity), TLS options included. */
function agentFor(target: EngineTarget): http.Agent {
  let tlsId = 0;
  if (target.tls) {
    tlsId = tlsIds.get(target.tls) ?? nextTlsId++;
    tlsIds.set(target.tls, tlsId);
  }
  const key = `${describe(target)}|${tlsId}`;
  let agent = agents.get(key);
  if (!agent) {
    agent = target.tls ? new https.Agent({ keepAlive: true, ...clientTlsOptions(target.tls, target.host) }) : new http.Agent({ keepAlive: true });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes a target's agent (its idle sockets) and forgets it: the engine left the cluster. */
export function releaseAgent(target: EngineTarget): void {
  const tlsId = target.tls ? tlsIds.get(target.tls) : 0;
  if (tlsId === undefined) return;
  const key = `${describe(target)}|${tlsId}`;
  const agent = agents.get(key);
  if (!agent) return;
  agents.delete(key);
  dockers.delete(agent);
  agent.destroy();
}

/** An HTTP(S) request to the target over its agent; errors are raw (see openRequest for typed ones). */
export function engineRequest(target: EngineTarget, options: http.RequestOptions): http.ClientRequest {
  const where = target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port };
  if (!target.tls) return http.request({ agent: agentFor(target), ...options, ...where });
  return https.request({ ...clientTlsOptions(target.tls, target.host), agent: agentFor(target), ...options, ...where });
}

/**
 * A raw (TLS) connection for hijacked streams; write once connectEvent(target) fired. Errors are
 * raw: pass them through transportError. A connect that takes longer than CONNECT_TIMEOUT_MS
 * fails with a timeout.
 */
export function connectEngine(target: EngineTarget, opts: { allowHalfOpen?: boolean; connectTimeoutMs?: number } = {}): net.Socket {
  const where = target.socketPath ? { path: target.socketPath } : { host: target.host, port: target.port };
  const socket = target.tls
    ? tls.connect({ ...clientTlsOptions(target.tls, target.host), ...where, allowHalfOpen: opts.allowHalfOpen })
    : net.connect({ ...where, allowHalfOpen: opts.allowHalfOpen });
  const ms = opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const timer = setTimeout(() => socket.destroy(new TransportError('timeout', `connect to ${describe(target)} timed out after ${ms / 1000}s`, 'ETIMEDOUT')), ms);
  socket.once(connectEvent(target), () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

/** The event after which a connectEngine socket may be written: the TLS handshake must be done. */
export function connectEvent(target: EngineTarget): 'connect' | 'secureConnect' {
  return target.tls ? 'secureConnect' : 'connect';
}

/** A connected raw socket (for splicing), or the TransportError of the attempt. */
export function openSocket(target: EngineTarget, opts: { allowHalfOpen?: boolean; connectTimeoutMs?: number } = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectEngine(target, opts);
    const onError = (err: Error) => reject(transportError(err, target));
    socket.once('error', onError);
    socket.once(connectEvent(target), () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/** An HTTP request over a socket already connected (openSocket): one request, no agent. */
export function requestOverSocket(socket: net.Socket, options: http.RequestOptions): http.ClientRequest {
  return http.request({ ...options, createConnection: () => socket });
}

// ---- requests -------------------------------------------------------------------------------------

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
  /** Until the answer's headers (buffered calls: until its end); 0 or absent: no limit. */
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

/** Starts a request; the caller handles the response (streams). Fails with a TransportError. */
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
      timer = setTimeout(() => req.destroy(new TransportError('timeout', `request to ${describe(target)} timed out`, 'ETIMEDOUT')), opts.timeoutMs);
    }
    // An engine whose link is cut answers nothing, not even a reset: fail the connect early so the
    // engine turns Unhealthy in seconds rather than after the whole request timeout.
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      const connectTimer = setTimeout(() => {
        req.destroy(new TransportError('timeout', `connect to ${describe(target)} timed out after ${CONNECT_TIMEOUT_MS / 1000}s`, 'ETIMEDOUT'));
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
      reject(transportError(err, target));
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

/** A buffered call; never throws on HTTP errors (see callJson for that). Fails with a TransportError. */
export async function call(target: EngineTarget, method: string, path: string, opts: CallOptions = {}): Promise<RawResponse> {
  const res = await openRequest(target, method, path, opts);
  try {
    const body = await readAll(res);
    return { status: res.statusCode ?? 0, headers: res.headers, body };
  } catch (err) {
    throw transportError(err, target);
  }
}

function decodeJson<T>(target: EngineTarget, text: string): T {
  try {
    return (text ? JSON.parse(text) : undefined) as T;
  } catch (err) {
    throw new TransportError('protocol', `${describe(target)} answered invalid JSON: ${(err as Error).message}`);
  }
}

/**
 * A buffered JSON call: resolves the decoded body on 2xx (undefined when empty), throws EngineHttpError
 * otherwise. The body is cast to T, not validated: T is the engine's wire contract (docker-types.ts).
 */
export async function callJson<T = unknown>(target: EngineTarget, method: string, path: string, opts: CallOptions = {}): Promise<T> {
  if (opts.pooled && !target.tls && !target.socketPath && !opts.bodyWriter) return fetchJson<T>(target, method, path, opts);
  const r = await call(target, method, path, opts);
  if (r.status < 200 || r.status >= 300) throw new EngineHttpError(r.status, errorBodyMessage(r.body) || `HTTP ${r.status}`);
  return decodeJson<T>(target, r.body.toString());
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
  try {
    // Bun's own idle timeout (5 minutes by default) would end a call that may wait longer (timeoutMs 0).
    const res = await fetch(`http://${describe(target)}${path}`, { method, headers, body, redirect: 'manual', signal: signals.length > 1 ? AbortSignal.any(signals) : signals[0], timeout: opts.timeoutMs ? opts.timeoutMs : false });
    return { res, text: await res.text() };
  } catch (err) {
    if ((err as Error)?.name === 'TimeoutError') throw new TransportError('timeout', `request to ${describe(target)} timed out`, 'ETIMEDOUT');
    throw transportError(err, target);
  }
}

async function fetchJson<T>(target: EngineTarget, method: string, path: string, opts: CallOptions): Promise<T> {
  const { res, text } = await fetchText(target, method, path, opts);
  if (res.status < 200 || res.status >= 300) throw new EngineHttpError(res.status, errorBodyMessage(text) || `HTTP ${res.status}`);
  return decodeJson<T>(target, text);
}

// ---- dockerode ------------------------------------------------------------------------------------

const dockers = new Map<http.Agent, Map<string, Docker>>();

/**
 * A dockerode client for `target` at API `apiVersion` (`1.44`), over the target's agent (so its
 * keep-alive sockets and TLS options): for engine calls that are not byte-exact streams. Loaded on
 * first use, so commands that never call an engine do not pay for it at startup.
 */
export async function engineDocker(target: EngineTarget, apiVersion: string): Promise<Docker> {
  const agent = agentFor(target);
  let byVersion = dockers.get(agent);
  if (!byVersion) dockers.set(agent, (byVersion = new Map()));
  const cached = byVersion.get(apiVersion);
  if (cached) return cached;
  const { default: Dockerode } = await import('dockerode');
  // docker-modem takes an `agent` (its types do not say so): ours carries keep-alive and the TLS options.
  const where: Docker.DockerOptions = target.socketPath ? { socketPath: target.socketPath } : { host: target.host, port: target.port, protocol: target.tls ? 'https' : 'http' };
  const options: Docker.DockerOptions & { agent: http.Agent } = { ...where, version: `v${apiVersion}`, agent };
  const docker = new Dockerode(options);
  byVersion.set(apiVersion, docker);
  return docker;
}

/** What dockerode rejects with, as this transport's errors (EngineHttpError for HTTP answers). */
function dockerodeError(err: unknown, target: EngineTarget): unknown {
  const e = err as { statusCode?: unknown; json?: unknown; message?: unknown };
  if (err instanceof Error && typeof e.statusCode === 'number') {
    const json = e.json as { message?: unknown } | string | Buffer | null | undefined;
    const message = typeof json === 'object' && json !== null && !Buffer.isBuffer(json) && typeof json.message === 'string' ? json.message : json ? errorBodyMessage(json as string | Buffer) : '';
    return new EngineHttpError(e.statusCode, message || `HTTP ${e.statusCode}`);
  }
  return transportError(err, target);
}

/**
 * Runs a dockerode call bounded by `timeoutMs` (its `abortSignal`), its failure as this transport's
 * errors: EngineHttpError for an HTTP answer, TransportError otherwise (a timeout as `timeout`).
 */
export async function viaDockerode<T>(target: EngineTarget, timeoutMs: number, run: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await run(signal);
  } catch (err) {
    if (signal.aborted) throw new TransportError('timeout', `request to ${describe(target)} timed out`, 'ETIMEDOUT');
    throw dockerodeError(err, target);
  }
}
