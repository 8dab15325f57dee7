/**
 * Consul adapter (HTTP API through the `consul` package).
 *
 * TTL mapping: a TTL key is bound to its own session (Behavior=delete, LockDelay=1ms) acquired on
 * the key; each `put` renews the session (a session Consul no longer knows is replaced by a new one)
 * and re-writes the key with `?acquire=`. Consul invalidates a session 2 × its TTL after the last
 * renewal and only accepts TTLs from 10 s, so the session TTL is max(10 s, ttl/2) (as libkv did):
 * a writer that dies disappears after max(ttl, 20 s). A writer that is alive but stops writing is
 * removed on time by a local timer that destroys the session `ttl` after the last put.
 * Watches: blocking queries (`?index=&wait=`), following Consul's advice: reset the index when it
 * goes backwards (store restarted) and never use 0.
 */
import Consul from 'consul';
import { EventEmitter } from 'node:events';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { UserError } from '../errors';
import { createLock, type LockDriver } from './lock';
import type { KeyEvent, KVEntry, KVLock, KVStore, LockOptions, PutOptions, StoreEndpoint, StoreOptions, TreeEvent } from './store';
import { isDirectChild, keyChanges, sortByKey, treeChanges } from './store';
import { describeEndpoint } from './url';
import { delay, holdProcess, toError } from './util';

const DEFAULT_OP_TIMEOUT_MS = 5000;
/** Longest a blocking query waits on the server before answering unchanged. */
const BLOCKING_WAIT_S = 30;
/** Consul refuses session TTLs under 10 s. */
const MIN_SESSION_TTL_S = 10;

/** What the Consul KV API returns for one key (Value already base64-decoded by the client). */
interface ConsulKvItem {
  Key: string;
  Value: string | null;
  Session?: string;
  ModifyIndex: number;
  CreateIndex: number;
  LockIndex: number;
  Flags: number;
}

interface IncomingResponse {
  statusCode?: number;
  headers: Record<string, string | string[] | undefined>;
}

/** A papi request context: emitting 'cancel' aborts the request; includeResponse adds the response. */
type RequestContext = EventEmitter & { includeResponse: true };

interface CommonOpts {
  timeout?: number;
  ctx?: RequestContext;
}

/** The part of the `consul` client used here, with the options its own typings leave out. */
interface ConsulApi {
  kv: {
    get(opts: CommonOpts & { key: string; recurse?: boolean; index?: string; wait?: string }): Promise<unknown>;
    set(opts: CommonOpts & { key: string; value: string; acquire?: string; release?: string; cas?: number }): Promise<boolean>;
    del(opts: CommonOpts & { key: string; recurse?: boolean; cas?: number }): Promise<boolean>;
  };
  session: {
    create(opts: CommonOpts & { name: string; ttl: string; behavior: 'delete' | 'release'; lockdelay: string }): Promise<{ ID: string }>;
    renew(opts: CommonOpts & { id: string }): Promise<unknown>;
    destroy(opts: CommonOpts & { id: string }): Promise<unknown>;
  };
  destroy(): void;
}

function statusOf(err: unknown): number | undefined {
  const e = err as { statusCode?: unknown; response?: { statusCode?: unknown } };
  const code = e?.response?.statusCode ?? e?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function sessionTtl(ttlMs: number): string {
  return `${Math.max(MIN_SESSION_TTL_S, Math.ceil(ttlMs / 2000))}s`;
}

interface TtlState {
  session: string;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class ConsulStore implements KVStore {
  readonly backend = 'consul' as const;
  readonly description: string;
  private readonly api: ConsulApi;
  private readonly opTimeoutMs: number;
  private readonly retryMs: number;
  private readonly ttlKeys = new Map<string, TtlState>();
  private readonly watching = new Set<RequestContext>();
  private closed = false;

  constructor(endpoint: StoreEndpoint, options: StoreOptions = {}) {
    if (endpoint.addrs.length !== 1) {
      throw new UserError(`consul:// takes the address of one Consul agent (got ${endpoint.addrs.length}: ${endpoint.addrs.join(',')}); point it at the local agent`);
    }
    this.description = describeEndpoint(endpoint);
    this.opTimeoutMs = options.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
    this.retryMs = options.retryMs ?? 1000;
    const addr = endpoint.addrs[0]!;
    const sep = addr.lastIndexOf(':');
    const host = addr.slice(0, sep).replace(/^\[(.*)\]$/, '$1');
    const port = Number(addr.slice(sep + 1));
    const tls = endpoint.tls;
    // No keep-alive: an idle connection must not hold the process open after the work is done.
    const agent = tls ? new HttpsAgent({ keepAlive: false, ca: tls.ca, cert: tls.cert, key: tls.key }) : new HttpAgent({ keepAlive: false });
    this.api = new Consul({ host, port, secure: Boolean(tls), agent }) as unknown as ConsulApi;
  }

  private fail(what: string, err: unknown): Error {
    const e = toError(err);
    const msg = e.message.replace(/^consul: [\w.]+: /, '');
    return new Error(`${this.description}: ${what}: ${msg}`);
  }

  private async call<T>(what: string, fn: (timeout: number) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(`${this.description}: client closed`);
    try {
      return await fn(this.opTimeoutMs);
    } catch (err) {
      throw Object.assign(this.fail(what, err), { statusCode: statusOf(err) });
    }
  }

  async get(key: string): Promise<string | undefined> {
    const item = (await this.call('read', (timeout) => this.api.kv.get({ key, timeout }))) as ConsulKvItem | undefined;
    return item ? (item.Value ?? '') : undefined;
  }

  async list(dir: string): Promise<KVEntry[]> {
    const items = (await this.call('read', (timeout) => this.api.kv.get({ key: dir ? dir + '/' : '', recurse: true, timeout }))) as ConsulKvItem[] | undefined;
    return toEntries(dir, items ?? []);
  }

  async createSession(name: string, ttlMs: number): Promise<string> {
    const res = await this.call('session create', (timeout) => this.api.session.create({ name, ttl: sessionTtl(ttlMs), behavior: 'delete', lockdelay: '1ms', timeout }));
    return res.ID;
  }

  /** Renews `session`: false when Consul no longer knows it (expired or destroyed). */
  async renewSession(session: string): Promise<boolean> {
    try {
      await this.call('session renew', (timeout) => this.api.session.renew({ id: session, timeout }));
      return true;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw err;
    }
  }

  async destroySession(session: string): Promise<void> {
    await this.call('session destroy', (timeout) => this.api.session.destroy({ id: session, timeout }));
  }

  /** `PUT ?acquire=`: true when `session` holds `key` now. */
  async acquire(key: string, value: string, session: string): Promise<boolean> {
    return this.call('lock', (timeout) => this.api.kv.set({ key, value, acquire: session, timeout }));
  }

  async readItem(key: string): Promise<{ item: ConsulKvItem | undefined; index: number }> {
    const ctx = newContext();
    const [res, body] = (await this.call('read', (timeout) => this.api.kv.get({ key, ctx, timeout }))) as [IncomingResponse, ConsulKvItem | undefined];
    return { item: body, index: consulIndex(res) };
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<void> {
    const ttlMs = options.ttlMs;
    if (!ttlMs) {
      this.forget(key);
      await this.call('write', (timeout) => this.api.kv.set({ key, value, timeout }));
      return;
    }
    let state = this.ttlKeys.get(key);
    if (state && !(await this.renewSession(state.session))) {
      this.forget(key);
      state = undefined;
    }
    if (!state) {
      state = { session: await this.createSession(`swarm ${key}`, ttlMs), timer: undefined };
      this.ttlKeys.set(key, state);
    }
    // false = another (older) session still holds the key; it keeps the entry until it expires.
    await this.acquire(key, value, state.session);
    const current = state;
    if (current.timer) clearTimeout(current.timer);
    current.timer = setTimeout(() => {
      if (this.ttlKeys.get(key) !== current) return;
      this.ttlKeys.delete(key);
      void this.destroySession(current.session).catch(() => undefined);
    }, ttlMs);
    current.timer.unref?.();
  }

  private forget(key: string): TtlState | undefined {
    const state = this.ttlKeys.get(key);
    if (state?.timer) clearTimeout(state.timer);
    this.ttlKeys.delete(key);
    return state;
  }

  async delete(key: string): Promise<void> {
    const state = this.forget(key);
    await this.call('delete', (timeout) => this.api.kv.del({ key, timeout }));
    if (state) await this.destroySession(state.session).catch(() => undefined);
  }

  /**
   * Blocking-query loop on `key` (recursive or not): yields each answer's body after the first and
   * whenever the index moves. Errors are yielded, then the loop waits `retryMs` and starts over.
   */
  private async *blocking(key: string, recurse: boolean, signal: AbortSignal): AsyncGenerator<{ kind: 'body'; body: unknown } | { kind: 'error'; error: Error }> {
    const release = holdProcess();
    let index = 0;
    try {
      while (!signal.aborted) {
        const ctx = newContext();
        const onAbort = () => ctx.emit('cancel');
        signal.addEventListener('abort', onAbort, { once: true });
        this.watching.add(ctx);
        try {
          const [res, body] = (await this.call('watch', (timeout) =>
            this.api.kv.get({
              key,
              recurse,
              ctx,
              ...(index > 0 ? { index: String(index), wait: `${BLOCKING_WAIT_S}s`, timeout: BLOCKING_WAIT_S * 1000 + timeout + 2000 } : { timeout }),
            }),
          )) as [IncomingResponse, unknown];
          let next = consulIndex(res);
          if (next < index) index = 0; // the store was reset: the index went backwards
          if (next < 1) next = 1;
          if (next !== index || index === 0) yield { kind: 'body', body };
          index = next;
        } catch (err) {
          if (signal.aborted) break;
          yield { kind: 'error', error: toError(err) };
          index = 0;
          await delay(this.retryMs, signal);
        } finally {
          signal.removeEventListener('abort', onAbort);
          this.watching.delete(ctx);
        }
      }
    } finally {
      release();
    }
  }

  watchTree(dir: string, signal: AbortSignal): AsyncGenerator<TreeEvent> {
    return treeChanges(this.blocking(dir ? dir + '/' : '', true, signal), (ev) => toEntries(dir, (ev.body as ConsulKvItem[] | undefined) ?? []));
  }

  watchKey(key: string, signal: AbortSignal): AsyncGenerator<KeyEvent> {
    return keyChanges(this.blocking(key, false, signal), (ev) => {
      const item = ev.body as ConsulKvItem | undefined;
      return item ? (item.Value ?? '') : undefined;
    });
  }

  /** Resolves when `key` changes after `index` (a blocking query), or when `signal` aborts. */
  async waitKeyChange(key: string, index: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const ctx = newContext();
    const onAbort = () => ctx.emit('cancel');
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await this.call('watch', (timeout) => this.api.kv.get({ key, ctx, index: String(Math.max(1, index)), wait: `${BLOCKING_WAIT_S}s`, timeout: BLOCKING_WAIT_S * 1000 + timeout + 2000 }));
    } catch (err) {
      if (!signal.aborted) throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  newLock(key: string, value: string, options: LockOptions): KVLock {
    return createLock(key, value, options, { retryMs: this.retryMs, onError: options.onError }, () => new ConsulLockDriver(this, key, value, options.ttlMs));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ctx of this.watching) ctx.emit('cancel');
    for (const state of this.ttlKeys.values()) if (state.timer) clearTimeout(state.timer);
    this.ttlKeys.clear();
    this.api.destroy();
  }
}

function newContext(): RequestContext {
  return Object.assign(new EventEmitter(), { includeResponse: true as const });
}

function consulIndex(res: IncomingResponse): number {
  const raw = res.headers['x-consul-index'];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

function toEntries(dir: string, items: ConsulKvItem[]): KVEntry[] {
  const out: KVEntry[] = [];
  for (const item of items) {
    if (isDirectChild(dir, item.Key)) out.push({ key: item.Key, value: item.Value ?? '' });
  }
  return sortByKey(out);
}

class ConsulLockDriver implements LockDriver {
  private session: string | undefined;
  private index = 0;

  constructor(
    private readonly store: ConsulStore,
    private readonly key: string,
    private readonly value: string,
    private readonly ttlMs: number,
  ) {}

  async tryAcquire(): Promise<boolean> {
    if (this.session && !(await this.store.renewSession(this.session))) this.session = undefined;
    this.session ??= await this.store.createSession(`swarm lock ${this.key}`, this.ttlMs);
    try {
      if (await this.store.acquire(this.key, this.value, this.session)) return true;
    } catch (err) {
      // "invalid session": it expired between renew and acquire; start again with a new one.
      if (statusOf(err) === 500) this.session = undefined;
      throw err;
    }
    const { item, index } = await this.store.readItem(this.key);
    this.index = index;
    return item?.Session === this.session;
  }

  async renew(): Promise<boolean> {
    if (!this.session || !(await this.store.renewSession(this.session))) return false;
    const { item } = await this.store.readItem(this.key);
    return item?.Session === this.session;
  }

  async release(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    // Behavior=delete: destroying the session deletes the key it holds.
    if (session) await this.store.destroySession(session);
  }

  waitForChange(signal: AbortSignal): Promise<void> {
    return this.store.waitKeyChange(this.key, this.index, signal);
  }
}
