/**
 * Discovery over a KV store (etcd, consul, zk), as Swarm v1 did it with libkv:
 * node key = `<prefix>/<kv.path>/<host:port>`, value = `host:port`, written with TTL = `--ttl` at
 * every heartbeat; the manager watches the directory. The backend files (etcd.ts, consul.ts, zk.ts)
 * only bind a store adapter; they are what the registry imports lazily.
 */
import { isHostPortError, parseHostPort } from '../address';
import { UserError } from '../errors';
import { log } from '../log';
import { kvKey, type KVBackend, type KVStore, type StoreEndpoint, type StoreOptions } from '../kv/store';
import { describeEndpoint, nodesPath, parseStoreUrl, TLS_OPTION_KEYS } from '../kv/url';
import { sameEntries, sortEntries } from './entries';
import type { Discovery, DiscoveryConfig, DiscoveryFactory, WatchEvent } from './types';

/** Longest pause before a failed watch reconnects (v1 waited a full heartbeat, up to minutes). */
const MAX_RETRY_MS = 10_000;

export type StoreMaker = (endpoint: StoreEndpoint, options: StoreOptions) => KVStore;

/** A KV discovery, plus `close()` for callers (tests, a future manager) that want to end it cleanly. */
export interface KVDiscovery extends Discovery {
  readonly endpoint: StoreEndpoint;
  /** Directory of node entries: `<prefix>/<kv.path>`. */
  readonly dir: string;
  close(): Promise<void>;
}

function storeOptionsFor(config: DiscoveryConfig): StoreOptions {
  return { retryMs: Math.min(Math.max(config.heartbeatMs, 100), MAX_RETRY_MS), opTimeoutMs: Math.min(Math.max(config.heartbeatMs, 2000), 5000) };
}

function createKVDiscovery(backend: KVBackend, rest: string, config: DiscoveryConfig, makeStore: StoreMaker): KVDiscovery {
  const endpoint = parseStoreUrl(backend, rest, config.options);
  const partialTls = TLS_OPTION_KEYS.filter((k) => config.options[k]);
  if (partialTls.length > 0 && !endpoint.tls) {
    log.warn('Ignoring TLS options: kv.cacertfile, kv.certfile and kv.keyfile must all be given', { given: partialTls.join(',') });
  }
  const dir = kvKey(endpoint.prefix, nodesPath(config.options));
  const options = storeOptionsFor(config);
  // Fail on bad options (e.g. several consul addresses) now, not at the first heartbeat.
  let registrar: KVStore | undefined = makeStore(endpoint, options);
  const stores = new Set<KVStore>([registrar]);

  return {
    scheme: backend,
    description: `${describeEndpoint(endpoint)}, directory ${dir}`,
    canRegister: true,
    endpoint,
    dir,
    async *watch(signal: AbortSignal): AsyncGenerator<WatchEvent> {
      // A watch has its own connection, closed when it ends (so `swarm list` exits at once).
      const store = makeStore(endpoint, options);
      stores.add(store);
      let last: string[] | undefined;
      try {
        for await (const event of store.watchTree(dir, signal)) {
          if (event.kind === 'error') {
            last = undefined; // after a failure, report the entries again once they are back
            yield { kind: 'error', error: event.error };
            continue;
          }
          const valid: string[] = [];
          const invalid: string[] = [];
          for (const { key, value } of event.entries) {
            const addr = value.trim() || key.slice(key.lastIndexOf('/') + 1);
            (isHostPortError(parseHostPort(addr)) ? invalid : valid).push(addr);
          }
          const entries = sortEntries([...new Set(valid)]);
          if (invalid.length > 0) {
            yield { kind: 'error', error: new UserError(`ignoring invalid entries under ${dir}: ${invalid.join(', ')} (expected host:port)`) };
          }
          if (!last || !sameEntries(last, entries)) {
            last = entries;
            yield { kind: 'entries', entries };
          }
        }
      } finally {
        stores.delete(store);
        await store.close();
      }
    },
    async register(addr: string) {
      const parsed = parseHostPort(addr);
      if (isHostPortError(parsed)) throw new UserError(`cannot register ${addr}: ${parsed.error}`);
      registrar ??= makeStore(endpoint, options);
      stores.add(registrar);
      await registrar.put(kvKey(dir, addr), addr, { ttlMs: config.ttlMs });
    },
    async close() {
      registrar = undefined;
      const all = [...stores];
      stores.clear();
      await Promise.all(all.map((s) => s.close()));
    },
  };
}

/** The factory each backend file exports. */
export function kvDiscoveryFactory(backend: KVBackend, makeStore: StoreMaker): DiscoveryFactory {
  return (rest, config) => createKVDiscovery(backend, rest, config, makeStore);
}
