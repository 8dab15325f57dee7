/**
 * The answers held open: attach (the connection hijacked for the container's output), logs with
 * follow, and wait (until the container stops or is removed).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, errorStatus } from '../../src/lib/errors';
import { socketError, truthy } from '../../src/lib/api/respond';
import { compareApiVersions, stripVersionPrefix } from '../../src/lib/engine/version';
import { frame, sendRaw } from './http';
import { isRunning, type Attacher, type Container, type WaitCondition, type Waiter } from './model';
import type { EngineState } from './state';

/** POST /containers/{id}/attach with "Upgrade: tcp": Docker hijacks the connection for the stream. */
export function attach(s: EngineState, req: IncomingMessage, socket: Socket): void {
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const { path } = stripVersionPrefix(qi < 0 ? url : url.slice(0, qi));
  const q = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
  const m = /^\/containers\/([^/]+)\/attach$/.exec(path);
  if (!m || req.method !== 'POST') return socketError(socket, 404, 'page not found');
  let c: Container;
  try {
    c = s.lookup(decodeURIComponent(m[1] as string));
  } catch (e) {
    return socketError(socket, errorStatus(e), e instanceof Error ? e.message : String(e));
  }
  const tty = c.config.Tty === true;
  socket.write(`HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`);
  if (truthy(q.get('logs')) && truthy(q.get('stdout'))) for (const line of c.logs) socket.write(frame(1, line, tty));
  if (!truthy(q.get('stream')) || c.status === 'removing' || c.status === 'dead') {
    socket.end();
    return;
  }
  const a: Attacher = { socket, tty, stdout: truthy(q.get('stdout')) };
  let set = s.attachers.get(c.id);
  if (!set) s.attachers.set(c.id, (set = new Set()));
  set.add(a);
  socket.on('close', () => s.attachers.get(c.id)?.delete(a));
  socket.on('data', () => undefined); // stdin goes nowhere
  s.containerEvent(c, 'attach');
}

function addWaiter(c: Container, res: ServerResponse, w: Waiter): void {
  c.waiters.push(w);
  res.on('close', () => {
    const i = c.waiters.indexOf(w);
    if (i >= 0) c.waiters.splice(i, 1);
  });
}

/** POST /containers/{id}/wait; before API 1.30 there were no conditions and the headers waited too. */
export function wait(c: Container, res: ServerResponse, q: URLSearchParams, apiVersion: string): void {
  const raw = q.get('condition') ?? '';
  if (raw !== '' && raw !== 'not-running' && raw !== 'next-exit' && raw !== 'removed') throw new ApiError(400, `invalid condition: "${raw}"`);
  const legacy = compareApiVersions(apiVersion, '1.30') < 0;
  const condition: WaitCondition = legacy || raw === '' ? 'not-running' : raw;
  const reply = (code: number): void => {
    const body = `${JSON.stringify({ Error: null, StatusCode: code })}\n`;
    if (res.headersSent) res.end(body);
    else sendRaw(res, 200, body);
  };
  if (condition === 'not-running' && !isRunning(c)) return reply(c.exitCode);
  if (!legacy) {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
  }
  addWaiter(c, res, { condition, done: reply });
}

/** GET /containers/{id}/logs: what the process printed (echo only); held open with follow=1 until it stops. */
export function logs(c: Container, res: ServerResponse, q: URLSearchParams): void {
  if (!truthy(q.get('stdout')) && !truthy(q.get('stderr'))) throw new ApiError(400, 'Bad parameters: you must choose at least one stream');
  const tty = c.config.Tty === true;
  res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
  if (truthy(q.get('stdout'))) for (const line of c.logs) res.write(frame(1, line, tty));
  if (!truthy(q.get('follow')) || !isRunning(c)) {
    res.end();
    return;
  }
  res.flushHeaders();
  addWaiter(c, res, { condition: 'next-exit', done: () => res.end() });
}
