/**
 * Response helpers. Errors are JSON `{"message": ...}` bodies: a deliberate deviation from Swarm
 * v1's plain-text errors, because today's docker CLI prints a JSON message cleanly ("Error response
 * from daemon: No such container: x") and dumps anything else raw.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new HttpError(404, what);

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
  const reason = status === 404 ? 'Not Found' : status === 400 ? 'Bad Request' : status === 409 ? 'Conflict' : 'Internal Server Error';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks);
}

/** The request body as JSON; 400 with the parser's message when malformed. Empty body → `fallback`. */
export async function readJson<T = unknown>(req: http.IncomingMessage, fallback?: T): Promise<T> {
  const buf = await readBody(req);
  const text = buf.toString().trim();
  if (!text) {
    if (fallback !== undefined) return fallback;
    throw new HttpError(400, 'request body is empty: expected a JSON object');
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new HttpError(400, `invalid JSON in request body: ${(err as Error).message}`);
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
    throw new HttpError(400, `invalid filter: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new HttpError(400, 'invalid filter: expected a JSON object');
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out.set(k, v.map(String));
    else if (v && typeof v === 'object') out.set(k, Object.keys(v).filter((x) => (v as Record<string, unknown>)[x]));
    else throw new HttpError(400, `invalid filter '${k}': expected a list of values`);
  }
  return out;
}

/** Docker's filter match: a value matches when the pattern (a regular expression) matches it. */
export function matchesPattern(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern).test(value);
  } catch {
    return pattern === value;
  }
}

export function truthy(v: string | null): boolean {
  return v !== null && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}
