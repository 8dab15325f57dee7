/**
 * Response helpers. Errors are JSON `{"message": ...}` bodies: a deliberate deviation from Swarm
 * v1's plain-text errors, because today's docker CLI prints a JSON message cleanly ("Error response
 * from daemon: No such container: x") and dumps anything else raw.
 */
import { STATUS_CODES } from 'node:http';
import { ApiError } from '../errors';
import { compileRegex } from '../regex';
import type http from 'node:http';
import type { Duplex } from 'node:stream';


/** Headers of every answer but Api-Version, which the server sets per request from the cluster's version. */
export function baseHeaders(): Record<string, string> {
  return { 'Docker-Experimental': 'false', 'Ostype': 'linux', Server: 'swarm' };
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...baseHeaders(), 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: http.ServerResponse, status: number): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, baseHeaders());
  res.end();
}

export function sendError(res: http.ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, status, { message });
}

/** An error written on a raw (upgrade) socket. */
export function socketError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  const reason = STATUS_CODES[status] ?? 'Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** What one request body may cost (`--api-max-body`, `--api-max-json-depth`, `--api-body-timeout`). */
export interface BodyLimits {
  /** Bytes of a buffered (JSON) body. */
  maxBytes: number;
  /** Nesting of arrays and objects in a JSON body. */
  maxDepth: number;
  /** A body that sends nothing for this long is given up (408). */
  idleMs: number;
}

export const DEFAULT_BODY_LIMITS: Readonly<BodyLimits> = { maxBytes: 16 * 1024 * 1024, maxDepth: 100, idleMs: 30_000 };
const limits: BodyLimits = { ...DEFAULT_BODY_LIMITS };

/** The error of a body the client gave up sending (counted in the summary, not logged one by one). */
export const BODY_ABORTED = 'request body aborted';

/** Set once when the server starts (the routes read bodies without the server's context). */
export function setBodyLimits(l: Partial<BodyLimits>): void {
  Object.assign(limits, l);
}

/**
 * The whole request body, at most `maxBytes` (413 beyond: the rest is not read, and the server closes
 * the connection); a body that stalls for the idle timeout is a 408. JSON bodies are read with the
 * configured limit (readJson); callers that buffer other bodies pass their own.
 */
export function readBody(req: http.IncomingMessage, maxBytes = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  return consumeBody(req, maxBytes, true);
}

/** Reads `req` to its end under the size and idle bounds; keeps the bytes only when `keep`. */
function consumeBody(req: http.IncomingMessage, maxBytes: number, keep: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (err?: ApiError) => {
      if (timer) clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      if (err) {
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => done(new ApiError(408, `request body stalled: nothing received for ${Math.round(limits.idleMs / 1000)} s`)), limits.idleMs);
    };
    const onData = (c: Buffer | string) => {
      const b = typeof c === 'string' ? Buffer.from(c) : c;
      size += b.length;
      if (size > maxBytes) return done(new ApiError(413, `request body is larger than ${maxBytes} bytes (the manager's --api-max-body)`));
      if (keep) chunks.push(b);
      arm();
    };
    const onEnd = () => done();
    const onError = () => done(new ApiError(400, BODY_ABORTED));
    if (req.complete && req.readableEnded) return resolve(Buffer.alloc(0));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    arm();
  });
}

/** Reads and drops a body the route ignores, without keeping it (bounded in time like any body). */
export async function discardBody(req: http.IncomingMessage): Promise<void> {
  await consumeBody(req, Number.MAX_SAFE_INTEGER, false).catch(() => undefined);
}

/** How deep arrays and objects nest in JSON `text` (strings skipped), stopping once past `limit`. */
function jsonDepthOver(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * dockerd's CheckForJSON: a body must be declared `application/json`. This is what keeps a web page
 * from posting a create as a form or `text/plain` (which a browser sends cross-site without asking).
 */
function checkJsonContentType(req: http.IncomingMessage, hasBody: boolean): void {
  const ct = String(req.headers['content-type'] ?? '');
  if (!hasBody && !ct) return;
  const media = ct.split(';')[0]!.trim().toLowerCase();
  if (media !== 'application/json') throw new ApiError(400, `Content-Type specified (${ct}) must be 'application/json'`);
}

/** The request body as JSON; 400 with the parser's message when malformed. Empty body → `fallback`. */
export async function readJson<T = unknown>(req: http.IncomingMessage, fallback?: T): Promise<T> {
  const buf = await readBody(req, limits.maxBytes);
  const text = buf.toString().trim();
  checkJsonContentType(req, text.length > 0);
  if (!text) {
    if (fallback !== undefined) return fallback;
    throw new ApiError(400, 'request body is empty: expected a JSON object');
  }
  if (jsonDepthOver(text, limits.maxDepth)) throw new ApiError(400, `JSON body nested deeper than ${limits.maxDepth} levels`);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new ApiError(400, `invalid JSON in request body: ${(err as Error).message}`);
  }
}

/** Parses a `filters` query value (`{"k":["v"]}` or the old `{"k":{"v":true}}` form); 400 when malformed. */
export function parseFilters(raw: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (!raw) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new ApiError(400, `invalid filter: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError(400, 'invalid filter: expected a JSON object');
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object') out.set(k, Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]));
    else throw new ApiError(400, `invalid filter '${k}': expected a list of values`);
  }
  return out;
}

/**
 * Docker's filter match: a value matches when the pattern (an unanchored regular expression, Go's
 * syntax, matched in linear time: the pattern is the client's) matches it; a pattern that does not
 * compile matches only itself. Compiled once, for matching many values.
 */
export function patternMatcher(pattern: string): (value: string) => boolean {
  const re = compileRegex(pattern);
  if (!re) return (value) => value === pattern;
  return (value) => re.test(value);
}

export function matchesPattern(pattern: string, value: string): boolean {
  return patternMatcher(pattern)(value);
}

/**
 * One `label` filter value against an object's labels, as Docker's MatchKVList: `key` wants the key
 * present, `key=value` wants that value. Own keys only: `label=constructor` must not match every
 * object through its prototype.
 */
export function labelMatches(labels: Readonly<Record<string, string>> | null | undefined, filter: string): boolean {
  if (!labels) return false;
  const i = filter.indexOf('=');
  const key = i < 0 ? filter : filter.slice(0, i);
  if (!Object.hasOwn(labels, key)) return false;
  return i < 0 || labels[key] === filter.slice(i + 1);
}

/** Every `label` filter value matches (Docker ANDs them). */
export function labelsMatch(labels: Readonly<Record<string, string>> | null | undefined, filters: readonly string[]): boolean {
  return filters.every((f) => labelMatches(labels, f));
}

export function truthy(v: string | null): boolean {
  return v !== null && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** A JSON body that must be an object (`123`, `null` or a list are a 400, never a crash later). */
export async function readJsonObject<T extends object>(req: http.IncomingMessage, fallback?: T): Promise<T> {
  const v = await readJson<unknown>(req, fallback);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'request body must be a JSON object');
  return v as T;
}
