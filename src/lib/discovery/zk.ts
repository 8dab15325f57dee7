/** `zk://h1:2181,h2:2181/prefix`: nodes as ephemeral znodes under `/<prefix>/<kv.path>` (see ../kv/zk.ts). */
import { ZkStore } from '../kv/zk';
import { kvDiscoveryFactory } from './kv';

export const createZkDiscovery = kvDiscoveryFactory('zk', (endpoint, options) => new ZkStore(endpoint, options));
