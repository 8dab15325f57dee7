/**
 * An in-process emulator of the part of Consul's HTTP API that swarm's consul:// backend uses, for
 * tests on machines where Consul itself cannot be installed. It follows Consul's documented
 * semantics:
 *
 * - KV: `GET/PUT/DELETE /v1/kv/<key>` with `recurse`, `keys`, `separator`, `raw`, `cas`, `flags`,
 *   `acquire`, `release`; values base64 in JSON (`null` when empty); 404 when nothing matches.
 * - Blocking queries: every read returns `X-Consul-Index`; with `?index=N` a read waits until the
 *   result's index exceeds N or `wait` (default 5m, max 10m, plus up to wait/16 jitter) elapses.
 *   The index of a prefix read is the highest ModifyIndex among its keys and its deleted keys
 *   (tombstones), so deletes wake watchers.
 * - Sessions: `PUT /v1/session/create` (TTL between 10s and 24h, Behavior release|delete, LockDelay
 *   default 15s, numbers under 1000 meaning seconds), `renew` (404 when unknown), `destroy`,
 *   `GET info|list`. A TTL session is invalidated 2 × TTL after its last renewal (Consul's
 *   multiplier); invalidation releases or deletes its locked keys and starts their lock-delay, during
 *   which `acquire` fails. An explicit `?release=` has no lock-delay.
 * - `GET /v1/status/leader`, `/v1/status/peers`.
 *
 * `restart({keepData: true})` behaves like a server restart with its data dir (KV and sessions kept,
 * session TTL timers reset as on a leader election); `keepData: false` like a `-dev` agent restart
 * (everything lost, the index starts over: clients must reset their blocking index).
 * Run standalone: `bun test/consul-emulator/server.ts [--port 8500]`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

interface KvEntry {
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Flags: number;
  Value: Buffer;
  Session?: string;
}

interface Session {
  ID: string;
  Name: string;
  Node: string;
  LockDelay: number; // nanoseconds, as Consul reports it
  Behavior: 'release' | 'delete';
  TTL: string;
  ttlMs: number;
  NodeChecks: string[];
  ServiceChecks: null;
  CreateIndex: number;
  ModifyIndex: number;
  timer?: ReturnType<typeof setTimeout>;
}

const NODE_NAME = 'consul-emulator';
const SESSION_TTL_MULTIPLIER = 2;
const MIN_SESSION_TTL_MS = 10_000;
const MAX_SESSION_TTL_MS = 86_400_000;
const DEFAULT_WAIT_MS = 5 * 60_000;
const MAX_WAIT_MS = 10 * 60_000;

const UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Go's time.ParseDuration, in milliseconds; undefined if invalid. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    total += Number(m[1]) * UNITS[m[2]!]!;
    matched = re.lastIndex;
  }
  return matched === text.length && text.length > 0 ? total : undefined;
}

function formatGoDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h0m0s`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m0s`;
  return `${ms / 1000}s`;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The replicated state of the emulated cluster (survives `restart({keepData: true})`). */
class ConsulState {
  index = 1;
  kvsIndex = 1;
  readonly kv = new Map<string, KvEntry>();
  readonly tombstones = new Map<string, number>();
  readonly sessions = new Map<string, Session>();
  readonly lockDelays = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  private bump(): number {
    this.index += 1;
    return this.index;
  }

  private changed(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves on the next change, or after `ms`. */
  waitForChange(ms: number, abort: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        abort.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      abort.addEventListener('abort', done, { once: true });
    });
  }

  // ---- KV ----

  private setKv(key: string, entry: KvEntry): void {
    this.kv.set(key, entry);
    this.tombstones.delete(key);
    this.kvsIndex = entry.ModifyIndex;
  }

  private deleteKv(key: string, idx: number): void {
    if (!this.kv.delete(key)) return;
    this.tombstones.set(key, idx);
    this.kvsIndex = idx;
  }

  /** Index of a read of `key` (single) or of the prefix `key` (recurse). */
  readIndex(key: string, recurse: boolean): number {
    if (!recurse) {
      const entry = this.kv.get(key);
      return entry ? entry.ModifyIndex : Math.max(this.kvsIndex, 1);
    }
    let max = 0;
    for (const [k, e] of this.kv) if (k.startsWith(key)) max = Math.max(max, e.ModifyIndex);
    for (const [k, i] of this.tombstones) if (k.startsWith(key)) max = Math.max(max, i);
    return max > 0 ? max : Math.max(this.kvsIndex, 1);
  }

  put(key: string, value: Buffer, q: URLSearchParams): boolean {
    const existing = this.kv.get(key);
    const flags = q.has('flags') ? Number(q.get('flags')) : (existing?.Flags ?? 0);
    if (q.has('cas')) {
      const cas = Number(q.get('cas'));
      if (!Number.isInteger(cas) || cas < 0) throw new HttpError(400, 'Invalid cas index');
      if (cas === 0 ? existing !== undefined : existing?.ModifyIndex !== cas) return false;
    }
    const acquire = q.get('acquire');
    const release = q.get('release');
    if (acquire !== null) {
      if (!this.sessions.has(acquire)) throw new HttpError(500, `invalid session "${acquire}"`);
      if (existing?.Session && existing.Session !== acquire) return false;
      if (existing?.Session === acquire) {
        const idx = this.bump();
        this.setKv(key, { ...existing, Value: value, Flags: flags, ModifyIndex: idx });
        this.changed();
        return true;
      }
      const until = this.lockDelays.get(key);
      if (until !== undefined && until > Date.now()) return false;
      const idx = this.bump();
      this.setKv(key, {
        CreateIndex: existing?.CreateIndex ?? idx,
        ModifyIndex: idx,
        LockIndex: (existing?.LockIndex ?? 0) + 1,
        Flags: flags,
        Value: value,
        Session: acquire,
      });
      this.changed();
      return true;
    }
    if (release !== null) {
      if (!existing || existing.Session !== release) return false;
      const idx = this.bump();
      const { Session: _held, ...rest } = existing;
      this.setKv(key, { ...rest, Value: value, Flags: flags, ModifyIndex: idx });
      this.changed();
      return true;
    }
    const idx = this.bump();
    this.setKv(key, {
      CreateIndex: existing?.CreateIndex ?? idx,
      ModifyIndex: idx,
      LockIndex: existing?.LockIndex ?? 0,
      Flags: flags,
      Value: value,
      ...(existing?.Session ? { Session: existing.Session } : {}),
    });
    this.changed();
    return true;
  }

  delete(key: string, q: URLSearchParams): boolean {
    if (q.has('recurse')) {
      const keys = [...this.kv.keys()].filter((k) => k.startsWith(key));
      if (keys.length === 0) return true;
      const idx = this.bump();
      for (const k of keys) this.deleteKv(k, idx);
      this.changed();
      return true;
    }
    const existing = this.kv.get(key);
    if (q.has('cas')) {
      const cas = Number(q.get('cas'));
      if (!existing || existing.ModifyIndex !== cas) return false;
    }
    if (!existing) return true;
    this.deleteKv(key, this.bump());
    this.changed();
    return true;
  }

  // ---- sessions ----

  createSession(body: Record<string, unknown>): Session {
    const behavior = body.Behavior === undefined || body.Behavior === '' ? 'release' : body.Behavior;
    if (behavior !== 'release' && behavior !== 'delete') throw new HttpError(400, `Invalid Behavior setting '${String(behavior)}'`);
    let ttlMs = 0;
    let ttlText = '';
    if (typeof body.TTL === 'string' && body.TTL !== '') {
      const parsed = parseGoDuration(body.TTL);
      if (parsed === undefined) throw new HttpError(400, `Request decode failed: time: invalid duration "${body.TTL}"`);
      if (parsed !== 0 && (parsed < MIN_SESSION_TTL_MS || parsed > MAX_SESSION_TTL_MS)) {
        throw new HttpError(400, `Invalid Session TTL '${parsed * 1e6}', must be between [${formatGoDuration(MIN_SESSION_TTL_MS)}=${formatGoDuration(MAX_SESSION_TTL_MS)}]`);
      }
      ttlMs = parsed;
      ttlText = body.TTL;
    }
    let lockDelayMs = 15_000;
    if (typeof body.LockDelay === 'string') {
      const parsed = parseGoDuration(body.LockDelay);
      if (parsed === undefined) throw new HttpError(400, `Request decode failed: time: invalid duration "${body.LockDelay}"`);
      lockDelayMs = parsed;
    } else if (typeof body.LockDelay === 'number') {
      // Consul: a bare number under 1000 is seconds, otherwise nanoseconds.
      lockDelayMs = body.LockDelay < 1000 ? body.LockDelay * 1000 : body.LockDelay / 1e6;
    }
    const idx = this.bump();
    const session: Session = {
      ID: randomUUID(),
      Name: typeof body.Name === 'string' ? body.Name : '',
      Node: typeof body.Node === 'string' && body.Node ? body.Node : NODE_NAME,
      LockDelay: Math.round(lockDelayMs * 1e6),
      Behavior: behavior,
      TTL: ttlText,
      ttlMs,
      NodeChecks: Array.isArray(body.NodeChecks) ? (body.NodeChecks as string[]) : ['serfHealth'],
      ServiceChecks: null,
      CreateIndex: idx,
      ModifyIndex: idx,
    };
    this.sessions.set(session.ID, session);
    this.armTtl(session);
    this.changed();
    return session;
  }

  armTtl(session: Session): void {
    if (session.timer) clearTimeout(session.timer);
    if (session.ttlMs > 0) session.timer = setTimeout(() => this.invalidate(session.ID), session.ttlMs * SESSION_TTL_MULTIPLIER);
  }

  renewSession(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (!session) return undefined;
    this.armTtl(session);
    return session;
  }

  /** Destroy or expiry: releases or deletes the session's keys, with lock-delay. */
  invalidate(id: string): void {
    const session = this.sessions.get(id);
    if (!session) return;
    if (session.timer) clearTimeout(session.timer);
    this.sessions.delete(id);
    const idx = this.bump();
    const delayUntil = Date.now() + session.LockDelay / 1e6;
    for (const [key, entry] of [...this.kv]) {
      if (entry.Session !== id) continue;
      if (session.Behavior === 'delete') this.deleteKv(key, idx);
      else {
        const { Session: _held, ...rest } = entry;
        this.setKv(key, { ...rest, ModifyIndex: idx });
      }
      if (session.LockDelay > 0) this.lockDelays.set(key, delayUntil);
    }
    this.changed();
  }

  stopTimers(): void {
    for (const s of this.sessions.values()) if (s.timer) clearTimeout(s.timer);
    for (const wake of [...this.waiters]) wake();
  }

  restartTimers(): void {
    for (const s of this.sessions.values()) this.armTtl(s);
  }
}

function publicSession(s: Session): Record<string, unknown> {
  const { timer: _t, ttlMs: _ms, ...rest } = s;
  return rest;
}

function kvJson(key: string, e: KvEntry): Record<string, unknown> {
  return {
    LockIndex: e.LockIndex,
    Key: key,
    Flags: e.Flags,
    Value: e.Value.length > 0 ? e.Value.toString('base64') : null,
    ...(e.Session ? { Session: e.Session } : {}),
    CreateIndex: e.CreateIndex,
    ModifyIndex: e.ModifyIndex,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export interface ConsulEmulator {
  readonly host: string;
  readonly port: number;
  /** `host:port`, as consul:// URLs take it. */
  readonly addr: string;
  readonly state: ConsulState;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(options?: { keepData?: boolean; downMs?: number }): Promise<void>;
}

export interface EmulatorOptions {
  host?: string;
  port?: number;
  /** Serve HTTPS and require client certificates signed by `ca` (PEM contents). */
  tls?: { key: Buffer; cert: Buffer; ca: Buffer };
}

export async function startConsulEmulator(options: EmulatorOptions = {}): Promise<ConsulEmulator> {
  const host = options.host ?? '127.0.0.1';
  let state = new ConsulState();
  let server: Server | undefined;
  let port = options.port ?? 0;

  async function handle(req: IncomingMessage, res: ServerResponse, abort: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    const path = decodeURIComponent(url.pathname);
    const method = req.method ?? 'GET';
    const headers: Record<string, string> = { 'X-Consul-Default-ACL-Policy': 'allow' };
    const send = (status: number, body: unknown, type = 'application/json') => {
      const text = type === 'application/json' ? JSON.stringify(body) : String(body);
      res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    const queryMeta = (index: number) => {
      headers['X-Consul-Index'] = String(index);
      headers['X-Consul-KnownLeader'] = 'true';
      headers['X-Consul-LastContact'] = '0';
    };
    /** Blocking query: waits while the result's index is still <= ?index. */
    const block = async (indexOf: () => number) => {
      const wanted = Number(q.get('index') ?? 0);
      if (!(wanted > 0)) return;
      let waitMs = DEFAULT_WAIT_MS;
      if (q.has('wait')) {
        const parsed = parseGoDuration(q.get('wait')!);
        if (parsed === undefined) throw new HttpError(400, 'Invalid wait time');
        waitMs = Math.min(parsed, MAX_WAIT_MS);
      }
      const deadline = Date.now() + waitMs + Math.random() * (waitMs / 16);
      while (indexOf() <= wanted && Date.now() < deadline && !abort.aborted) {
        await state.waitForChange(deadline - Date.now(), abort);
      }
    };

    if (path.startsWith('/v1/kv/')) {
      const key = path.slice('/v1/kv/'.length);
      if (method === 'GET') {
        const recurse = q.has('recurse') || q.has('keys');
        await block(() => state.readIndex(key, recurse));
        if (abort.aborted) return;
        queryMeta(state.readIndex(key, recurse));
        if (q.has('keys')) {
          const sep = q.get('separator') ?? '';
          const out = new Set<string>();
          for (const k of [...state.kv.keys()].sort()) {
            if (!k.startsWith(key)) continue;
            const j = sep ? k.indexOf(sep, key.length) : -1;
            out.add(j >= 0 ? k.slice(0, j + sep.length) : k);
          }
          if (out.size === 0) return send(404, '', 'text/plain');
          return send(200, [...out]);
        }
        const matches = recurse ? [...state.kv].filter(([k]) => k.startsWith(key)).sort(([a], [b]) => (a < b ? -1 : 1)) : state.kv.has(key) ? [[key, state.kv.get(key)!] as const] : [];
        if (matches.length === 0) return send(404, '', 'text/plain');
        if (q.has('raw') && !recurse) {
          const value = matches[0]![1].Value;
          res.writeHead(200, { ...headers, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': value.length });
          return void res.end(value);
        }
        return send(200, matches.map(([k, e]) => kvJson(k, e)));
      }
      if (!key) throw new HttpError(400, 'Missing key name');
      if (method === 'PUT') return send(200, state.put(key, await readBody(req), q));
      if (method === 'DELETE') return send(200, state.delete(key, q));
      throw new HttpError(405, 'method not allowed');
    }

    if (path === '/v1/session/create' && method === 'PUT') {
      const raw = (await readBody(req)).toString();
      let body: Record<string, unknown> = {};
      if (raw.trim()) {
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch (err) {
          throw new HttpError(400, `Request decode failed: ${(err as Error).message}`);
        }
      }
      const session = state.createSession(body);
      return send(200, { ID: session.ID });
    }
    let m = /^\/v1\/session\/renew\/(.+)$/.exec(path);
    if (m && method === 'PUT') {
      const session = state.renewSession(m[1]!);
      if (!session) return send(404, `Session id '${m[1]}' not found`, 'text/plain');
      return send(200, [publicSession(session)]);
    }
    m = /^\/v1\/session\/destroy\/(.+)$/.exec(path);
    if (m && method === 'PUT') {
      state.invalidate(m[1]!);
      return send(200, true);
    }
    m = /^\/v1\/session\/info\/(.+)$/.exec(path);
    if (m && method === 'GET') {
      queryMeta(state.index);
      const session = state.sessions.get(m[1]!);
      return send(200, session ? [publicSession(session)] : []);
    }
    if (path === '/v1/session/list' && method === 'GET') {
      queryMeta(state.index);
      return send(200, [...state.sessions.values()].map(publicSession));
    }
    if (path === '/v1/status/leader' && method === 'GET') return send(200, '127.0.0.1:8300');
    if (path === '/v1/status/peers' && method === 'GET') return send(200, ['127.0.0.1:8300']);
    throw new HttpError(404, '404 page not found');
  }

  async function start(): Promise<void> {
    const listener: RequestListener = (req, res) => {
      const abort = new AbortController();
      res.on('close', () => abort.abort());
      handle(req, res, abort.signal).catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        const status = err instanceof HttpError ? err.status : 500;
        const text = err instanceof Error ? err.message : String(err);
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(text);
      });
    };
    const tls = options.tls;
    const srv: Server = tls ? createHttpsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, listener) : createServer(listener);
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    port = (srv.address() as AddressInfo).port;
    server = srv;
  }

  async function stop(): Promise<void> {
    const srv = server;
    server = undefined;
    state.stopTimers();
    if (!srv) return;
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
  }

  await start();
  const emulator: ConsulEmulator = {
    host,
    get port() {
      return port;
    },
    get addr() {
      return `${host}:${port}`;
    },
    get state() {
      return state;
    },
    stop,
    async start() {
      if (server) return;
      state.restartTimers();
      await start();
    },
    async restart({ keepData = true, downMs = 0 } = {}) {
      await stop();
      if (!keepData) state = new ConsulState();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      state.restartTimers();
      await start();
    },
  };
  return emulator;
}

if (import.meta.main) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : 8500;
  const emulator = await startConsulEmulator({ port });
  console.error(`consul emulator listening on http://${emulator.addr}`);
}
