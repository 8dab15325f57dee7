/** `consul://h:8500/prefix`: nodes under `<prefix>/<kv.path>` in Consul's KV store (see ../kv/consul.ts). */
import { ConsulStore } from '../kv/consul';
import { kvDiscoveryFactory } from './kv';

export const createConsulDiscovery = kvDiscoveryFactory('consul', (endpoint, options) => new ConsulStore(endpoint, options));
