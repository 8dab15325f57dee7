/**
 * A small key/value store layer shared by the distributed discovery backends (etcd, consul, zk) and,
 * next, by leader election for manager replication. It hides each store's way of expiring data
 * (etcd leases, Consul sessions, ZooKeeper ephemeral nodes) behind one contract:
 *
 * - keys are slash-separated paths without leading or trailing slash (`swarm/docker/swarm/nodes/a:1`);
 * - `put` with `ttlMs` writes a key that lives until `ttlMs` after the last such put (while the writer
 *   process lives) and is removed by the store itself if the writer dies (after about `ttlMs`; see
 *   each adapter for how the store's own minimums bend that);
 * - `watchTree` / `watchKey` are push-based, yield the full current state on every change, yield
 *   errors as they happen and reconnect by themselves; they end only when their signal aborts;
 * - `newLock` is a mutual-exclusion lock with a TTL, held by one contender at a time, whose value
 *   (e.g. a manager address) can be watched with `watchKey`.
 *
 * This file holds only types and pure helpers: the heavy client libraries live in the adapters
 * (`etcd.ts`, `consul.ts`, `zk.ts`), which are imported lazily (see `open.ts`).
 */

export type KVBackend = 'etcd' | 'consul' | 'zk';

/** TLS material for the store connection (PEM contents, already read from disk). */
export interface StoreTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** Where a store is and how to talk to it, as parsed from `scheme://h1:p1,h2:p2/prefix`. */
export interface StoreEndpoint {
  backend: KVBackend;
  /** `host:port` of each server, in URL order. */
  addrs: string[];
  /** URL path after the addresses, normalized (no leading/trailing slash); may be empty. */
  prefix: string;
  tls?: StoreTls;
}

export interface StoreOptions {
  /** Deadline of one store operation (get, put, renew...), default 5 s. */
  opTimeoutMs?: number;
  /** Delay before a failed watch reconnects, default 1 s. */
  retryMs?: number;
}

export interface KVEntry {
  key: string;
  value: string;
}

export type KVErrorEvent = { kind: 'error'; error: Error };
export type TreeEvent = { kind: 'entries'; entries: KVEntry[] } | KVErrorEvent;
export type KeyEvent = { kind: 'value'; value: string | undefined } | KVErrorEvent;

/**
 * What every adapter's watch does with its raw reads: pass errors through, announce a state only when
 * it differs from the last one announced, and forget that one after an error, so the state is
 * announced again once the store is back.
 */
async function* changesOf<E extends { kind: string }, V>(
  source: AsyncIterable<E | KVErrorEvent>,
  project: (ev: E) => V,
  fingerprint: (v: V) => string | undefined,
): AsyncGenerator<{ kind: 'changed'; value: V } | KVErrorEvent> {
  let last: { print: string | undefined } | undefined;
  for await (const ev of source) {
    if (ev.kind === 'error') {
      last = undefined;
      yield ev as KVErrorEvent;
      continue;
    }
    const value = project(ev as E);
    const print = fingerprint(value);
    if (!last || last.print !== print) {
      last = { print };
      yield { kind: 'changed', value };
    }
  }
}

/** A tree watch from raw reads: the entries whenever they changed. */
export async function* treeChanges<E extends { kind: string }>(source: AsyncIterable<E | KVErrorEvent>, entries: (ev: E) => KVEntry[]): AsyncGenerator<TreeEvent> {
  for await (const ev of changesOf(source, entries, (list) => JSON.stringify(list))) {
    yield ev.kind === 'error' ? ev : { kind: 'entries', entries: ev.value };
  }
}

/** A key watch from raw reads: the value (undefined = absent) whenever it changed. */
export async function* keyChanges<E extends { kind: string }>(source: AsyncIterable<E | KVErrorEvent>, value: (ev: E) => string | undefined): AsyncGenerator<KeyEvent> {
  for await (const ev of changesOf(source, value, (v) => v)) {
    yield ev.kind === 'error' ? ev : { kind: 'value', value: ev.value };
  }
}

export interface PutOptions {
  /** Lifetime of the key after this put; absent = persistent. */
  ttlMs?: number;
}

export interface LockOptions {
  /** How long the lock outlives its holder's last renewal. */
  ttlMs: number;
  /** Period of automatic renewal while held (default ttlMs/3). */
  renewEveryMs?: number;
  /** Store errors met while campaigning or renewing (they are retried, not thrown). */
  onError?: (err: Error) => void;
}

export interface KVStore {
  readonly backend: KVBackend;
  /** For logs and errors, e.g. `etcd at 10.0.0.1:2379,10.0.0.2:2379`. */
  readonly description: string;
  get(key: string): Promise<string | undefined>;
  /** Direct children of `dir` (deeper keys are left out), sorted by key. */
  list(dir: string): Promise<KVEntry[]>;
  put(key: string, value: string, options?: PutOptions): Promise<void>;
  /** Deletes `key` (and, for a TTL key written by this store object, stops keeping it alive). */
  delete(key: string): Promise<void>;
  /** Direct children of `dir`: the full list first, then again after every change. */
  watchTree(dir: string, signal: AbortSignal): AsyncIterable<TreeEvent>;
  /** Value of `key` (undefined = absent): first the current value, then after every change. */
  watchKey(key: string, signal: AbortSignal): AsyncIterable<KeyEvent>;
  /** A lock on `key` that stores `value` while held. */
  newLock(key: string, value: string, options: LockOptions): KVLock;
  /** Closes connections; TTL keys are left to expire on the server, as after a crash. */
  close(): Promise<void>;
}

export interface KVLock {
  readonly key: string;
  readonly value: string;
  /**
   * Waits until this contender holds the lock, then keeps renewing it in the background.
   * Rejects with an AbortError when `signal` aborts first; store errors are retried, not thrown.
   */
  acquire(signal: AbortSignal): Promise<HeldLock>;
}

export interface HeldLock {
  /** Aborts (with the reason as an Error) when the lock is lost or released. */
  readonly lost: AbortSignal;
  /** Renews now; throws if the lock turns out lost (and aborts `lost`). */
  renew(): Promise<void>;
  /** Gives the lock up at once so another contender can take it. */
  release(): Promise<void>;
}

/** Joins path parts into a normalized key: no empty segments, no leading/trailing slash. */
export function kvKey(...parts: string[]): string {
  return parts
    .flatMap((p) => p.split('/'))
    .filter((s) => s.length > 0)
    .join('/');
}

/** Whether `key` sits directly under `dir` (not deeper). */
export function isDirectChild(dir: string, key: string): boolean {
  const prefix = dir ? dir + '/' : '';
  if (!key.startsWith(prefix)) return false;
  const rest = key.slice(prefix.length);
  return rest.length > 0 && !rest.includes('/');
}

export function sortByKey(entries: KVEntry[]): KVEntry[] {
  return entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Leader key of manager replication (v1: `<prefix>/docker/swarm/leader`). */
export const LEADER_PATH = 'docker/swarm/leader';
/** Default directory of node entries (v1's `kv.path` default). */
export const DEFAULT_NODES_PATH = 'docker/swarm/nodes';
