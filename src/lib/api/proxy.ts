/**
 * Passing requests through to the engine that owns the object: a streaming HTTP proxy (logs -f,
 * stats, events, archives, pull progress) and a raw socket splice for hijacked streams (attach,
 * exec start), which must see the engine's `101 UPGRADED` response byte for byte.
 */
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Engine } from '../engine/engine';
import { isConnectionError, unreachableMessage } from '../engine/health';
import { connectEngine, connectEvent, engineRequest, transportError } from '../engine/http';
import { ApiError, errorMessage } from '../errors';
import { log } from '../log';
import { sendError, socketError } from './respond';

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

function forwardHeaders(h: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP.has(k.toLowerCase())) out[k] = v;
  return out;
}

/** An engine's answer headers, less its own Api-Version: clients see the cluster's (set by the server). */
function responseHeaders(h: http.IncomingHttpHeaders): Record<string, string | string[]> {
  const out = forwardHeaders(h);
  delete out['api-version'];
  return out;
}

export interface ProxyOptions {
  /** Body to send instead of streaming the client's. */
  body?: Buffer;
  /** Method to use instead of the client's. */
  method?: string;
  /** Called once the engine's response finished (refresh the cache). */
  after?: (status: number) => void | Promise<void>;
}

/** Streams `req` to `engine` at `path` (bare path + query) and the answer back, flushing as it goes. */
export function proxyTo(req: http.IncomingMessage, res: http.ServerResponse, engine: Engine, path: string, opts: ProxyOptions = {}): Promise<void> {
  return new Promise((resolve) => {
    const headers = forwardHeaders(req.headers);
    if (opts.body) {
      delete headers['content-length'];
      headers['content-length'] = String(opts.body.length);
    }
    const up = engineRequest(engine.target, {
      method: opts.method ?? req.method,
      path: engine.path(path),
      headers,
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve();
    };
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
      finish();
    });
    up.on('response', (ures) => {
      engine.noteSuccess();
      const status = ures.statusCode ?? 502;
      res.writeHead(status, responseHeaders(ures.headers));
      res.flushHeaders?.();
      // Back-pressure: a slow client pauses the engine's stream instead of growing the manager's memory.
      ures.on('data', (chunk: Buffer) => {
        if (!res.write(chunk)) {
          ures.pause();
          res.once('drain', () => ures.resume());
        }
      });
      ures.on('end', () => {
        void Promise.resolve(opts.after?.(status))
          .catch(() => undefined)
          .finally(() => {
            res.end();
            finish();
          });
      });
      ures.on('error', () => {
        res.end();
        finish();
      });
    });
    up.on('error', (e) => {
      const err = transportError(e, engine.target);
      if (isConnectionError(err)) engine.noteFailure(err);
      if (!res.headersSent) sendError(res, 500, unreachableMessage(engine, err));
      else res.end();
      finish();
    });
    if (opts.body) up.end(opts.body);
    else if (req.complete && !req.readable) up.end();
    else req.pipe(up);
  });
}

/** Buffered call through the engine with the client's method/headers; returns status and body. */
export async function forward(
  req: http.IncomingMessage,
  engine: Engine,
  path: string,
  body?: Buffer,
  method?: string,
  /** 0: no timeout (stop/restart/kill wait as long as the engine does). */
  timeoutMs = 120_000,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const headers = forwardHeaders(req.headers) as Record<string, string>;
  delete headers['content-length'];
  const payload = body ?? Buffer.alloc(0);
  try {
    const r = await engine.raw(method ?? req.method ?? 'GET', path, { raw: payload, headers, timeoutMs });
    return r;
  } catch (err) {
    throw new ApiError(500, unreachableMessage(engine, err));
  }
}

export interface HijackOptions {
  /**
   * Pass the request body on (default). Exec start's body is its JSON config; attach takes none, and
   * dockerd would read a body sent with it (dockerode sends one) as the container's stdin.
   */
  forwardBody?: boolean;
}

/** Request headers that describe a body: dropped with the body. */
const BODY_HEADERS = new Set(['content-length', 'transfer-encoding']);

/**
 * Splices the client's socket to the engine for a hijacked call. Under bun the request body (exec
 * start's JSON) arrives as 'data' events on `req` instead of in `head`; both are forwarded, or both
 * dropped with `forwardBody: false`. Half-close passes through in both directions.
 */
export function hijack(req: http.IncomingMessage, socket: Duplex, head: Buffer, engine: Engine, path: string, opts: HijackOptions = {}): void {
  const forwardBody = opts.forwardBody ?? true;
  const upstream = connectEngine(engine.target, { allowHalfOpen: true });
  const lines = [`${req.method} ${engine.path(path)} HTTP/1.1`, `Host: ${engine.addr}`];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const k = req.rawHeaders[i]!;
    if (k.toLowerCase() === 'host' || (!forwardBody && BODY_HEADERS.has(k.toLowerCase()))) continue;
    lines.push(`${k}: ${req.rawHeaders[i + 1]}`);
  }
  const pending: Buffer[] = [];
  // Under node the body leads `head`; what follows it is already the stream (stdin).
  if (head?.length) {
    if (forwardBody) pending.push(head);
    else if (!req.headers['transfer-encoding']) {
      const rest = head.subarray(Math.min(head.length, Number(req.headers['content-length'] ?? 0) || 0));
      if (rest.length) pending.push(rest);
    }
  }
  let spliced = false;
  const onData = (chunk: Buffer | string) => {
    if (!forwardBody) return;
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (spliced) upstream.write(b);
    else pending.push(b);
  };
  if (!req.complete) req.on('data', onData);
  let connected = false;
  upstream.setKeepAlive(true, 30_000);
  upstream.once(connectEvent(engine.target), () => {
    connected = true;
    engine.noteSuccess();
    upstream.write(lines.join('\r\n') + '\r\n\r\n');
    for (const b of pending) upstream.write(b);
    pending.length = 0;
    spliced = true;
    const splice = () => {
      socket.on('data', (d: Buffer) => upstream.write(d));
      socket.on('end', () => upstream.end());
    };
    if (!req.complete) req.once('end', splice);
    else splice();
    upstream.on('data', (d) => socket.write(d));
    upstream.on('end', () => socket.end());
  });
  upstream.on('error', (e) => {
    const err = transportError(e, engine.target);
    if (!connected) {
      if (isConnectionError(err)) engine.noteFailure(err);
      socketError(socket, 500, unreachableMessage(engine, err));
    } else socket.destroy();
  });
  socket.on('error', (err) => {
    log.debug('Hijacked client socket error', { error: errorMessage(err) });
    upstream.destroy();
  });
  socket.on('close', () => {
    if (!upstream.destroyed) upstream.destroy();
  });
  upstream.on('close', () => {
    if (!socket.writableEnded) socket.destroy();
  });
}
