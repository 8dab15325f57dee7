/**
 * Opens a KV store by backend, importing its client library only then (etcd3, consul and
 * node-zookeeper-client cost nothing to commands that do not use them).
 */
import type { KVBackend, KVStore, StoreEndpoint, StoreOptions } from './store';
import { parseStoreUrl } from './url';

const adapters: Record<KVBackend, () => Promise<(endpoint: StoreEndpoint, options?: StoreOptions) => KVStore>> = {
  etcd: async () => {
    const { EtcdStore } = await import('./etcd');
    return (endpoint, options) => new EtcdStore(endpoint, options);
  },
  consul: async () => {
    const { ConsulStore } = await import('./consul');
    return (endpoint, options) => new ConsulStore(endpoint, options);
  },
  zk: async () => {
    const { ZkStore } = await import('./zk');
    return (endpoint, options) => new ZkStore(endpoint, options);
  },
};

export function isKVBackend(scheme: string): scheme is KVBackend {
  return scheme in adapters;
}

export async function openStore(endpoint: StoreEndpoint, options?: StoreOptions): Promise<KVStore> {
  const make = await adapters[endpoint.backend]();
  return make(endpoint, options);
}

/** `etcd://h:2379/prefix` & co. with `--discovery-opt` options → an open store and its endpoint. */
export async function openStoreUrl(backend: KVBackend, rest: string, discoveryOptions: Record<string, string> = {}, options?: StoreOptions): Promise<{ store: KVStore; endpoint: StoreEndpoint }> {
  const endpoint = parseStoreUrl(backend, rest, discoveryOptions);
  return { store: await openStore(endpoint, options), endpoint };
}
