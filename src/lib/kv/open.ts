/**
 * Opens a KV store by backend, importing its client library only then (etcd3, consul and
 * node-zookeeper-client cost nothing to commands that do not use them).
 */
import type { KVBackend, KVStore, StoreEndpoint, StoreOptions } from './store';

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

export async function openStore(endpoint: StoreEndpoint, options?: StoreOptions): Promise<KVStore> {
  const make = await adapters[endpoint.backend]();
  return make(endpoint, options);
}

