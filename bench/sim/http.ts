/**
 * The engine's side of HTTP: answers as dockerd writes them (its headers and a trailing newline,
 * not the manager's respond.ts, which says `Server: swarm`), stream framing, and the route a call
 * is counted under.
 */
import type { ServerResponse } from 'node:http';
import { errorStatus } from '../../src/lib/errors';
import type { Json } from './json';

export function sendRaw(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: Json | object): void {
  sendRaw(res, status, `${JSON.stringify(body)}\n`);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

export function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  sendJson(res, errorStatus(e), { message: e instanceof Error ? e.message : String(e) });
}

/** Docker's stdcopy framing for non-TTY streams: [stream, 0, 0, 0, size (big-endian u32)] + payload. */
export function frame(stream: 1 | 2, text: string, tty: boolean): Buffer {
  const payload = Buffer.from(text, 'utf8');
  if (tty) return payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** `GET /containers/abc/json` → `GET /containers/{id}/json`: calls counted by route. */
export function routeOf(method: string, url: string): string {
  const qi = url.indexOf('?');
  const path = (qi < 0 ? url : url.slice(0, qi)).replace(/^\/v[0-9.]+\//, '/');
  const seg = path.split('/');
  const top = seg[1] ?? '';
  if (seg.length > 2 && ['containers', 'images', 'networks', 'volumes', 'exec'].includes(top)) {
    const fixed = new Set(['json', 'create', 'prune', 'load', 'search', 'get']);
    if (!(seg.length === 3 && fixed.has(seg[2] ?? ''))) seg[2] = top === 'images' && seg.length > 4 ? '{name}' : '{id}';
    if (top === 'images' && seg.length > 4) seg.splice(3, seg.length - 4);
  }
  const filtered = qi >= 0 && /(^|&)filters=/.test(url.slice(qi + 1)) ? '?filters' : '';
  return `${method} ${seg.join('/')}${filtered}`;
}
