/**
 * etcd v3 adapter (gRPC, through the `etcd3` package's raw RPC clients so that every stream can be
 * cancelled and every call has a deadline).
 *
 * TTL mapping: a TTL key gets its own lease of ceil(ttl) seconds; each `put` keeps that lease alive
 * once (LeaseKeepAlive) and re-writes the key attached to it; a lease found expired or unknown is
 * replaced by a new one, so a lost lease heals at the next heartbeat. The key vanishes exactly when
 * the lease expires: ttl after the last put, whether the writer stopped or died.
 * Watches: a range read, then a Watch stream from the next revision (push); on any stream error the
 * watch yields the error, waits `retryMs`, and starts again with a fresh read.
 */
import { credentials as grpcCredentials } from '@grpc/grpc-js';
import { noop } from 'cockatiel';
import { Etcd3, type IKeyValue, type IWatchResponse } from 'etcd3';
import { checkServerIdentity } from 'node:tls';
import { createLock, type LockDriver } from './lock';
import type { KeyEvent, KVEntry, KVLock, KVStore, LockOptions, PutOptions, StoreEndpoint, StoreOptions, TreeEvent } from './store';
import { isDirectChild, keyChanges, sortByKey, treeChanges } from './store';
import { describeEndpoint } from './url';
import { delay, EventQueue, holdProcess, toError, withTimeout } from './util';

const DEFAULT_OP_TIMEOUT_MS = 5000;
/** TLS server name sent to etcd (see EtcdStore.pinServerIdentity). */
const SNI_NAME = 'etcd';

interface TtlState {
  lease: string;
  ttlS: number;
}

type RangeState = Map<string, { value: string; lease: string }>;

/** gRPC's messages, made readable on one line. */
function cleanGrpcMessage(message: string): string {
  let msg = message.replace(/^\d+ [A-Z_]+: /, '').split('\n')[0]!;
  const refused = /No connection established\. Last error: (?:Error: )?(.*?)\.?\s*(?:Resolution note:.*)?$/.exec(msg);
  if (refused) msg = `cannot connect (${refused[1]})`;
  const deadline = /^Deadline exceeded after ([\d.]+)s/.exec(msg);
  if (deadline) msg = `no answer within ${Math.round(Number(deadline[1]))}s`;
  return msg;
}

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** `[key, range_end)` for the direct and deeper children of `dir`. */
function dirRange(dir: string): { key: Buffer; range_end: Buffer } {
  if (!dir) return { key: Buffer.from([0]), range_end: Buffer.from([0]) };
  const key = Buffer.from(dir + '/');
  return { key, range_end: prefixEnd(key) };
}

export class EtcdStore implements KVStore {
  readonly backend = 'etcd' as const;
  readonly description: string;
  private readonly client: Etcd3;
  private readonly opTimeoutMs: number;
  private readonly retryMs: number;
  private readonly ttlKeys = new Map<string, TtlState>();
  private closed = false;

  constructor(endpoint: StoreEndpoint, options: StoreOptions = {}) {
    this.description = describeEndpoint(endpoint);
    this.opTimeoutMs = options.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
    this.retryMs = options.retryMs ?? 1000;
    const tls = endpoint.tls;
    const opTimeoutMs = this.opTimeoutMs;
    this.client = new Etcd3({
      hosts: endpoint.addrs.map((a) => `${tls ? 'https' : 'http'}://${a}`),
      ...(tls ? { credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key } } : {}),
      dialTimeout: opTimeoutMs,
      // Unary calls get a deadline; streams (watch, keepalive) are bounded by our own timers.
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: new Date(Date.now() + opTimeoutMs) }),
      // No circuit breaker / hidden retries: our callers retry at their own pace and need the real error.
      faultHandling: { host: () => noop, global: noop },
      grpcOptions: {
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 5_000,
        // Reconnect within seconds of the store coming back, even after a long outage.
        'grpc.initial_reconnect_backoff_ms': 500,
        'grpc.max_reconnect_backoff_ms': 3_000,
        // See pinServerIdentity: the TLS server name (SNI) must not be an IP address.
        ...(tls ? { 'grpc.ssl_target_name_override': SNI_NAME } : {}),
      },
    });
    if (tls) this.pinServerIdentity(tls);
  }

  /**
   * grpc-js sends the host as TLS server name (SNI), and bun refuses an IP address there, so every
   * `etcd://10.0.0.1:2379` over TLS would fail. The channel uses a fixed DNS-like SNI instead
   * (grpc.ssl_target_name_override) and each host gets credentials that verify the server
   * certificate against that host's real address (IP SANs work as usual). etcd3 builds one set of
   * credentials for all hosts without a verify hook, hence the per-host replacement before any call.
   */
  private pinServerIdentity(tls: NonNullable<StoreEndpoint['tls']>): void {
    const hosts = (this.client as unknown as { pool?: { hosts?: Array<{ host?: unknown; channelCredentials?: unknown }> } }).pool?.hosts;
    if (!Array.isArray(hosts) || hosts.some((h) => typeof h.host !== 'string' || !('channelCredentials' in h))) {
      throw new Error('etcd TLS: unexpected etcd3 internals (ConnectionPool.hosts); update src/lib/kv/etcd.ts');
    }
    for (const h of hosts) {
      const hostname = String(h.host).replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
      h.channelCredentials = grpcCredentials.createSsl(tls.ca, tls.key, tls.cert, {
        checkServerIdentity: (_sni, cert) => checkServerIdentity(hostname, cert),
      });
    }
  }

  private fail(what: string, err: unknown): Error {
    const e = toError(err);
    const out = new Error(`${this.description}: ${what}: ${cleanGrpcMessage(e.message)}`);
    out.name = e.name;
    return out;
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error(`${this.description}: client closed`);
    try {
      return await withTimeout(fn(), this.opTimeoutMs + 1000, what);
    } catch (err) {
      throw this.fail(what, err);
    }
  }

  private async range(key: Buffer, rangeEnd?: Buffer): Promise<{ kvs: IKeyValue[]; revision: string }> {
    const res = await this.call('read', () => this.client.kv.range({ key, ...(rangeEnd ? { range_end: rangeEnd } : {}) }));
    return { kvs: res.kvs, revision: res.header.revision };
  }

  async get(key: string): Promise<string | undefined> {
    const { kvs } = await this.range(Buffer.from(key));
    return kvs[0]?.value.toString();
  }

  async list(dir: string): Promise<KVEntry[]> {
    const { key, range_end } = dirRange(dir);
    const { kvs } = await this.range(key, range_end);
    return toEntries(dir, kvs);
  }

  /** One keepalive on `lease`: true if it is still alive. */
  async keepAlive(lease: string): Promise<boolean> {
    return this.call('lease keepalive', async () => {
      const stream = await this.client.leaseClient.leaseKeepAlive();
      try {
        return await new Promise<boolean>((resolve, reject) => {
          stream.on('data', (res) => resolve(Number(res.TTL) > 0));
          stream.on('error', reject);
          stream.on('end', () => reject(new Error('keepalive stream ended')));
          stream.write({ ID: lease });
        });
      } finally {
        stream.on('error', () => undefined);
        stream.cancel();
      }
    });
  }

  async grant(ttlS: number): Promise<string> {
    const res = await this.call('lease grant', () => this.client.leaseClient.leaseGrant({ TTL: ttlS }));
    return res.ID;
  }

  async revoke(lease: string): Promise<void> {
    await this.call('lease revoke', () => this.client.leaseClient.leaseRevoke({ ID: lease })).catch((err: Error) => {
      if (!/lease not found/i.test(err.message)) throw err;
    });
  }

  async put(key: string, value: string, options: PutOptions = {}): Promise<void> {
    const k = Buffer.from(key);
    const v = Buffer.from(value);
    if (!options.ttlMs) {
      this.ttlKeys.delete(key);
      await this.call('write', () => this.client.kv.put({ key: k, value: v }));
      return;
    }
    const ttlS = Math.max(1, Math.ceil(options.ttlMs / 1000));
    for (let attempt = 0; ; attempt++) {
      let state = this.ttlKeys.get(key);
      if (state && (state.ttlS !== ttlS || !(await this.keepAlive(state.lease)))) state = undefined;
      if (!state) {
        state = { lease: await this.grant(ttlS), ttlS };
        this.ttlKeys.set(key, state);
      }
      try {
        await this.call('write', () => this.client.kv.put({ key: k, value: v, lease: state.lease }));
        return;
      } catch (err) {
        // The lease expired between the keepalive and the write: start over with a new one, once.
        if (attempt > 0 || !/lease not found/i.test(toError(err).message)) throw err;
        this.ttlKeys.delete(key);
      }
    }
  }

  async delete(key: string): Promise<void> {
    const state = this.ttlKeys.get(key);
    this.ttlKeys.delete(key);
    await this.call('delete', () => this.client.kv.deleteRange({ key: Buffer.from(key) }));
    if (state) await this.revoke(state.lease).catch(() => undefined);
  }

  /**
   * Reads `[key, rangeEnd)` then follows it with a Watch stream; yields the full state after the
   * read and after every batch of events. Reconnects (fresh read) after errors.
   */
  private async *watchRange(key: Buffer, rangeEnd: Buffer | undefined, signal: AbortSignal): AsyncGenerator<{ kind: 'state'; state: RangeState } | { kind: 'error'; error: Error }> {
    const release = holdProcess();
    try {
      while (!signal.aborted) {
        const queue = new EventQueue<IWatchResponse>();
        let cancel: (() => void) | undefined;
        try {
          const { kvs, revision } = await this.range(key, rangeEnd);
          const state: RangeState = new Map(kvs.map((kv) => [kv.key.toString(), { value: kv.value.toString(), lease: kv.lease }]));
          yield { kind: 'state', state: new Map(state) };
          if (signal.aborted) break;
          const stream = await this.call('watch', () => this.client.watchClient.watch());
          let done = false;
          cancel = () => {
            done = true;
            stream.cancel();
          };
          stream.on('data', (res) => queue.push(res));
          stream.on('error', (err) => done || queue.fail(err));
          stream.on('end', () => done || queue.fail(new Error('watch stream ended')));
          stream.write({
            create_request: { key, ...(rangeEnd ? { range_end: rangeEnd } : {}), start_revision: String(BigInt(revision) + 1n) },
          });
          for (;;) {
            const res = await queue.next(signal);
            if (!res) break;
            if (res.canceled || res.compact_revision !== '0') {
              throw new Error(`watch cancelled by the server${res.compact_revision !== '0' ? ` (compacted at revision ${res.compact_revision})` : ''}`);
            }
            if (res.events.length === 0) continue;
            for (const ev of res.events) {
              const k = ev.kv.key.toString();
              if (ev.type === 'Delete') state.delete(k);
              else state.set(k, { value: ev.kv.value.toString(), lease: ev.kv.lease });
            }
            yield { kind: 'state', state: new Map(state) };
          }
        } catch (err) {
          if (signal.aborted) break;
          yield { kind: 'error', error: err instanceof Error && err.message.startsWith(this.description) ? err : this.fail('watch', err) };
          await delay(this.retryMs, signal);
        } finally {
          cancel?.();
        }
      }
    } finally {
      release();
    }
  }

  watchTree(dir: string, signal: AbortSignal): AsyncGenerator<TreeEvent> {
    const { key, range_end } = dirRange(dir);
    // Changes deeper than the direct children do not count: the entries compare equal.
    return treeChanges(this.watchRange(key, range_end, signal), (ev) => toEntries(dir, [...ev.state].map(([k, v]) => ({ key: k, value: v.value }))));
  }

  watchKey(key: string, signal: AbortSignal): AsyncGenerator<KeyEvent> {
    return keyChanges(this.watchRange(Buffer.from(key), undefined, signal), (ev) => ev.state.get(key)?.value);
  }

  newLock(key: string, value: string, options: LockOptions): KVLock {
    return createLock(key, value, options, { retryMs: this.retryMs, onError: options.onError }, () => new EtcdLockDriver(this, key, value, Math.max(1, Math.ceil(options.ttlMs / 1000))));
  }

  /** Used by the lock driver. */
  txn(compare: Parameters<Etcd3['kv']['txn']>[0]): ReturnType<Etcd3['kv']['txn']> {
    return this.call('transaction', () => this.client.kv.txn(compare));
  }

  /** Resolves at the first change of `key` after `revision`. */
  async waitKeyChange(key: string, revision: string, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const stream = await this.call('watch', () => this.client.watchClient.watch());
    try {
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => resolve();
        signal.addEventListener('abort', onAbort, { once: true });
        stream.on('data', (res) => {
          if (res.events.length > 0 || res.canceled) resolve();
        });
        stream.on('error', (err) => reject(this.fail('watch', err)));
        stream.on('end', () => resolve());
        stream.write({ create_request: { key: Buffer.from(key), start_revision: String(BigInt(revision) + 1n) } });
      });
    } finally {
      stream.on('error', () => undefined);
      stream.cancel();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}

function toEntries(dir: string, kvs: Array<IKeyValue | KVEntry>): KVEntry[] {
  const out: KVEntry[] = [];
  for (const kv of kvs) {
    const key = kv.key.toString();
    if (isDirectChild(dir, key)) out.push({ key, value: kv.value.toString() });
  }
  return sortByKey(out);
}

class EtcdLockDriver implements LockDriver {
  private lease: string | undefined;
  private revision = '0';

  constructor(
    private readonly store: EtcdStore,
    private readonly key: string,
    private readonly value: string,
    private readonly ttlS: number,
  ) {}

  async tryAcquire(): Promise<boolean> {
    if (!this.lease || !(await this.store.keepAlive(this.lease))) this.lease = await this.store.grant(this.ttlS);
    const key = Buffer.from(this.key);
    const res = await this.store.txn({
      compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
      success: [{ request_put: { key, value: Buffer.from(this.value), lease: this.lease } }],
      failure: [{ request_range: { key } }],
    });
    this.revision = res.header.revision;
    if (res.succeeded) return true;
    const holder = res.responses[0]?.response_range.kvs[0];
    return holder !== undefined && holder.lease === this.lease;
  }

  async renew(): Promise<boolean> {
    if (!this.lease || !(await this.store.keepAlive(this.lease))) return false;
    const key = Buffer.from(this.key);
    const res = await this.store.txn({ compare: [{ key, target: 'Lease', result: 'Equal', lease: this.lease }], success: [], failure: [] });
    return res.succeeded;
  }

  async release(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    if (!lease) return;
    const key = Buffer.from(this.key);
    try {
      await this.store.txn({ compare: [{ key, target: 'Lease', result: 'Equal', lease }], success: [{ request_delete_range: { key } }], failure: [] });
    } finally {
      await this.store.revoke(lease);
    }
  }

  waitForChange(signal: AbortSignal): Promise<void> {
    return this.store.waitKeyChange(this.key, this.revision, signal);
  }
}
