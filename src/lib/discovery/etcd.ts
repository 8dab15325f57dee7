/** `etcd://h1:2379,h2:2379/prefix`: nodes under `<prefix>/<kv.path>` in etcd v3 (see ../kv/etcd.ts). */
import { EtcdStore } from '../kv/etcd';
import { kvDiscoveryFactory } from './kv';

export const createEtcdDiscovery = kvDiscoveryFactory('etcd', (endpoint, options) => new EtcdStore(endpoint, options));
