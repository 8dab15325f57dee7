/**
 * ZooKeeper adapter (`node-zookeeper-client`).
 *
 * Keys map to znodes (`a/b/c` → `/a/b/c`); parents are created as persistent nodes.
 * TTL mapping: a TTL key is an ephemeral node owned by a ZooKeeper session whose timeout is the TTL
 * (one session per distinct TTL). ZooKeeper removes it when that session ends: at once on a clean
 * close, one session timeout after the writer dies (the server clamps the timeout to
 * [2, 20] × tickTime, i.e. 4 s to 40 s by default, so a 180 s TTL becomes 40 s). A writer that is
 * alive but stops writing is removed on time by a local timer `ttl` after the last put. A session
 * that expired (e.g. store down longer than the timeout) is replaced by a new one at the next put,
 * which re-creates the node.
 * Watches: getChildren/exists with a watcher (push); a lost connection is reported as an error and
 * the watch starts over (fresh read) once the client reconnects.
 */
import zookeeper, { type Client, type Stat } from 'node-zookeeper-client';
import { createLock, type LockDriver } from './lock';
import type { KeyEvent, KVEntry, KVLock, KVStore, LockOptions, PutOptions, StoreEndpoint, StoreOptions, TreeEvent } from './store';
import { keyChanges, kvKey, sortByKey, treeChanges } from './store';
import { describeEndpoint } from './url';
import { delay, EventQueue, formatMs, holdProcess, TimeoutError, toError, withTimeout } from './util';

const DEFAULT_OP_TIMEOUT_MS = 5000;
/** Session timeout of the connection used for reads and watches. */
const READ_SESSION_TIMEOUT_MS = 10_000;

const { Exception, CreateMode, State } = zookeeper;

function zkPath(key: string): string {
  return '/' + kvKey(key);
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown; zkCode?: unknown })?.zkCode ?? (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

/** One ZooKeeper client = one session. Replaced by the store when it expires. */
class ZkConnection {
  readonly client: Client;
  expired = false;
  closed = false;
  /** Since when the session has had no server (undefined while connected). */
  private downSince: number | undefined = Date.now();
  private readonly listeners = new Set<(event: 'connected' | 'disconnected' | 'expired') => void>();

  constructor(connectionString: string, readonly sessionTimeoutMs: number) {
    this.client = zookeeper.createClient(connectionString, { sessionTimeout: sessionTimeoutMs, spinDelay: 500, retries: 0 });
    this.client.on('state', (state) => {
      if (state === State.SYNC_CONNECTED || state === State.CONNECTED_READ_ONLY) {
        this.downSince = undefined;
        this.unrefSocket();
        this.emit('connected');
      } else if (state === State.DISCONNECTED) {
        this.downSince ??= Date.now();
        this.emit('disconnected');
      }
      else if (state === State.EXPIRED) {
        this.expired = true;
        this.emit('expired');
      }
    });
    this.client.connect();
  }

  get connected(): boolean {
    const state = this.client.getState();
    return state === State.SYNC_CONNECTED || state === State.CONNECTED_READ_ONLY;
  }

  /**
   * Not expired, not closed, and not without a server for longer than its session could live: after
   * a server restart under load the client was seen never to reconnect, and by then the session is
   * gone on the server anyway, so a new client is the right answer.
   */
  get usable(): boolean {
    if (this.expired || this.closed) return false;
    return this.downSince === undefined || Date.now() - this.downSince <= this.sessionTimeoutMs;
  }

  sessionId(): string {
    return this.client.getSessionId().toString('hex');
  }

  on(listener: (event: 'connected' | 'disconnected' | 'expired') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: 'connected' | 'disconnected' | 'expired'): void {
    for (const l of [...this.listeners]) l(event);
  }

  /** The client's socket must not keep a finished process alive; pending operations and watches hold it instead. */
  private unrefSocket(): void {
    const manager = (this.client as unknown as { connectionManager?: { socket?: { unref?: () => void } } }).connectionManager;
    manager?.socket?.unref?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.client.close();
  }
}

function op<T>(run: (cb: (err: Error | InstanceType<typeof Exception> | null, result: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    run((err, result) => (err ? reject(err) : resolve(result)));
  });
}

interface TtlState {
  conn: ZkConnection;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class ZkStore implements KVStore {
  readonly backend = 'zk' as const;
  readonly description: string;
  private readonly connectionString: string;
  private readonly opTimeoutMs: number;
  private readonly retryMs: number;
  private readonly connections = new Map<number, ZkConnection>();
  private readonly ttlKeys = new Map<string, TtlState>();
  private closed = false;

  constructor(endpoint: StoreEndpoint, options: StoreOptions = {}) {
    this.description = describeEndpoint(endpoint);
    this.connectionString = endpoint.addrs.join(',');
    this.opTimeoutMs = options.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
    this.retryMs = options.retryMs ?? 1000;
  }

  /** The live session with this timeout, created (or re-created after expiry) on demand. */
  connection(sessionTimeoutMs: number = READ_SESSION_TIMEOUT_MS): ZkConnection {
    if (this.closed) throw new Error(`${this.description}: client closed`);
    let conn = this.connections.get(sessionTimeoutMs);
    if (!conn || !conn.usable) {
      conn?.close();
      conn = new ZkConnection(this.connectionString, sessionTimeoutMs);
      this.connections.set(sessionTimeoutMs, conn);
    }
    return conn;
  }

  private fail(what: string, err: unknown): Error {
    const e = toError(err);
    const out = new Error(`${this.description}: ${what}: ${e.message.replace(/^Exception: /, '')}`);
    const code = codeOf(err);
    if (code !== undefined) Object.assign(out, { zkCode: code });
    return out;
  }

  /** Runs one ZooKeeper call with a deadline (the client queues calls while disconnected). */
  async call<T>(what: string, run: (cb: (err: Error | InstanceType<typeof Exception> | null, result: T) => void) => void): Promise<T> {
    try {
      return await withTimeout(op(run), this.opTimeoutMs, 'no answer');
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new Error(`${this.description}: not connected (no answer within ${formatMs(this.opTimeoutMs)}; is ZooKeeper running there?)`);
      }
      throw this.fail(what, err);
    }
  }

  async exists(conn: ZkConnection, path: string, watcher?: () => void): Promise<Stat | undefined> {
    const stat = await this.call<Stat | null>('read', (cb) => (watcher ? conn.client.exists(path, watcher, cb) : conn.client.exists(path, cb)));
    return stat ?? undefined;
  }

  private async getData(conn: ZkConnection, path: string): Promise<string | undefined> {
    try {
      const data = await this.call<Buffer>('read', (cb) => conn.client.getData(path, (err, d) => cb(err, d)));
      return data ? data.toString() : '';
    } catch (err) {
      if (codeOf(err) === Exception.NO_NODE) return undefined;
      throw err;
    }
  }

  private async getChildren(conn: ZkConnection, path: string, watcher?: () => void): Promise<string[] | undefined> {
    try {
      return await this.call<string[]>('read', (cb) => (watcher ? conn.client.getChildren(path, watcher, (err, c) => cb(err, c)) : conn.client.getChildren(path, (err, c) => cb(err, c))));
    } catch (err) {
      if (codeOf(err) === Exception.NO_NODE) return undefined;
      throw err;
    }
  }

  async mkdirp(conn: ZkConnection, path: string): Promise<void> {
    if (path === '/') return;
    await this.call<string>('create', (cb) => conn.client.mkdirp(path, cb));
  }

  async get(key: string): Promise<string | undefined> {
    return this.getData(this.connection(), zkPath(key));
  }

  private async readDir(conn: ZkConnection, dir: string, watcher?: () => void): Promise<KVEntry[]> {
    const path = zkPath(dir);
    const names = await this.getChildren(conn, path, watcher);
    if (!names) return [];
    const base = kvKey(dir);
    const entries = await Promise.all(
      names.map(async (name) => {
        const value = await this.getData(conn, path === '/' ? '/' + name : `${path}/${name}`);
        return value === undefined ? undefined : { key: kvKey(base, name), value: value || name };
      }),
    );
    return sortByKey(entries.filter((e): e is KVEntry => e !== undefined));
  }

  async list(dir: string): Promise<KVEntry[]> {
    return this.readDir(this.connection(), dir);
  }

  /**
   * Makes `path` an ephemeral node of `conn`'s session holding `value`: creates it, updates it if
   * already ours, replaces it if it belongs to another (e.g. expired) session or is persistent.
   * With `takeOver` false, a node of another session is left alone and false is returned.
   */
  async ensureEphemeral(conn: ZkConnection, path: string, value: string, takeOver: boolean): Promise<boolean> {
    const data = Buffer.from(value);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.call<string>('create', (cb) => conn.client.create(path, data, CreateMode.EPHEMERAL, cb));
        return true;
      } catch (err) {
        const code = codeOf(err);
        if (code === Exception.NO_NODE) {
          await this.mkdirp(conn, parentOf(path));
          continue;
        }
        if (code !== Exception.NODE_EXISTS) throw err;
      }
      const stat = await this.exists(conn, path);
      if (!stat) continue;
      const owner = stat.ephemeralOwner.toString('hex');
      if (owner === conn.sessionId()) {
        await this.call<Stat>('write', (cb) => conn.client.setData(path, data, cb));
        return true;
      }
      if (!takeOver) return false;
      try {
        await this.call<void>('delete', (cb) => conn.client.remove(path, stat.version, (err) => cb(err, undefined)));
      } catch (err) {
        const code = codeOf(err);
        if (code !== Exception.NO_NODE && code !== Exception.BAD_VERSION) throw err;
      }
    }
    throw new Error(`${this.description}: cannot create ${path}: it keeps changing`);
  }

  /** Deletes `path` if `conn`'s session owns it. */
  async removeIfOwned(conn: ZkConnection, path: string): Promise<void> {
    const stat = await this.exists(conn, path);
    if (!stat || stat.ephemeralOwner.toString('hex') !== conn.sessionId()) return;
    await this.call<void>('delete', (cb) => conn.client.remove(path, stat.version, (err) => cb(err, undefined))).catch((err: unknown) => {
      const code = codeOf(err);
      if (code !== Exception.NO_NODE && code !== Exception.BAD_VERSION) throw err;
    });
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<void> {
    const path = zkPath(key);
    const ttlMs = options.ttlMs;
    if (!ttlMs) {
      this.forget(key);
      const conn = this.connection();
      const data = Buffer.from(value);
      try {
        await this.call<Stat>('write', (cb) => conn.client.setData(path, data, cb));
      } catch (err) {
        if (codeOf(err) !== Exception.NO_NODE) throw err;
        await this.call<string>('create', (cb) => conn.client.mkdirp(path, data, cb));
      }
      return;
    }
    const conn = this.connection(Math.max(1000, Math.round(ttlMs)));
    let state = this.ttlKeys.get(key);
    if (state && state.conn !== conn) {
      this.forget(key);
      state = undefined;
    }
    await this.ensureEphemeral(conn, path, value, true);
    state ??= { conn, timer: undefined };
    this.ttlKeys.set(key, state);
    const current = state;
    if (current.timer) clearTimeout(current.timer);
    current.timer = setTimeout(() => {
      if (this.ttlKeys.get(key) !== current) return;
      this.ttlKeys.delete(key);
      void this.removeIfOwned(current.conn, path).catch(() => undefined);
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
    this.forget(key);
    const conn = this.connection();
    await this.call<void>('delete', (cb) => conn.client.remove(zkPath(key), -1, (err) => cb(err, undefined))).catch((err: unknown) => {
      if (codeOf(err) !== Exception.NO_NODE) throw err;
    });
  }

  /**
   * Generic push watch: `read(conn, onChange)` reads the state and leaves a one-shot watcher; the
   * state is yielded, then the loop waits for the watcher, a lost connection (error) or the signal.
   */
  private async *watchWith<T>(signal: AbortSignal, read: (conn: ZkConnection, onChange: () => void) => Promise<T>): AsyncGenerator<{ kind: 'state'; state: T } | { kind: 'error'; error: Error }> {
    const release = holdProcess();
    try {
      while (!signal.aborted) {
        const queue = new EventQueue<'change'>();
        let unsubscribe: (() => void) | undefined;
        try {
          const conn = this.connection();
          unsubscribe = conn.on((event) => {
            if (event !== 'connected') queue.fail(new Error(`${this.description}: connection ${event === 'expired' ? 'expired' : 'lost'}`));
          });
          const state = await read(conn, () => queue.push('change'));
          yield { kind: 'state', state };
          await queue.next(signal);
        } catch (err) {
          if (signal.aborted) break;
          const error = toError(err);
          yield { kind: 'error', error: error.message.startsWith(this.description) ? error : this.fail('watch', error) };
          await delay(this.retryMs, signal);
        } finally {
          unsubscribe?.();
        }
      }
    } finally {
      release();
    }
  }

  watchTree(dir: string, signal: AbortSignal): AsyncGenerator<TreeEvent> {
    const reads = this.watchWith(signal, async (conn, onChange) => {
      // v1 creates the watched directory when absent, so a child watch can be left on it.
      await this.mkdirp(conn, zkPath(dir));
      return this.readDir(conn, dir, onChange);
    });
    return treeChanges(reads, (ev) => ev.state);
  }

  watchKey(key: string, signal: AbortSignal): AsyncGenerator<KeyEvent> {
    const path = zkPath(key);
    const reads = this.watchWith(signal, async (conn, onChange) => {
      // exists() leaves a watch that fires on create, delete and data change.
      const stat = await this.exists(conn, path, onChange);
      return stat ? await this.getData(conn, path) : undefined;
    });
    return keyChanges(reads, (ev) => ev.state);
  }

  newLock(key: string, value: string, options: LockOptions): KVLock {
    return createLock(key, value, options, { retryMs: this.retryMs, onError: options.onError }, () => new ZkLockDriver(this, zkPath(key), value, Math.max(1000, Math.round(options.ttlMs))));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const state of this.ttlKeys.values()) if (state.timer) clearTimeout(state.timer);
    this.ttlKeys.clear();
    for (const conn of this.connections.values()) conn.close();
    this.connections.clear();
  }
}

class ZkLockDriver implements LockDriver {
  private conn: ZkConnection | undefined;

  constructor(
    private readonly store: ZkStore,
    private readonly path: string,
    private readonly value: string,
    private readonly sessionTimeoutMs: number,
  ) {}

  async tryAcquire(): Promise<boolean> {
    const conn = this.store.connection(this.sessionTimeoutMs);
    this.conn = conn;
    return this.store.ensureEphemeral(conn, this.path, this.value, false);
  }

  async renew(): Promise<boolean> {
    const conn = this.conn;
    if (!conn || !conn.usable) return false;
    // The session is kept alive by the client's pings; renewing = checking we still own the node.
    const stat = await this.store.exists(conn, this.path);
    return stat !== undefined && stat.ephemeralOwner.toString('hex') === conn.sessionId();
  }

  async release(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    if (conn && conn.usable) await this.store.removeIfOwned(conn, this.path);
  }

  async waitForChange(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const conn = this.store.connection(this.sessionTimeoutMs);
    await new Promise<void>((resolve, reject) => {
      let unsubscribe = () => {};
      const done = () => {
        signal.removeEventListener('abort', done);
        unsubscribe();
        resolve();
      };
      unsubscribe = conn.on((event) => event !== 'connected' && done());
      signal.addEventListener('abort', done, { once: true });
      this.store.exists(conn, this.path, done).then((stat) => {
        if (!stat) done();
      }, (err: unknown) => {
        signal.removeEventListener('abort', done);
        unsubscribe();
        reject(toError(err));
      });
    });
  }
}

