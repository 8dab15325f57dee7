import type { ManageInput } from '../../src/lib/manager/plan';

/** `swarm manage`'s flags at their defaults, for tests that change one or two of them. */
export function manageInput(overrides: Partial<ManageInput> = {}): ManageInput {
  return {
    discoveryUrl: 'nodes://10.0.0.1:2375',
    hosts: [],
    strategy: 'spread',
    heartbeat: '60s',
    refreshMin: '30s',
    refreshMax: '60s',
    failureRetry: 3,
    refreshRetry: 3,
    clusterDriver: 'swarm',
    clusterOpts: [],
    discoveryOpts: {},
    replication: false,
    replicationTtl: '20s',
    tls: false,
    tlsverify: false,
    cors: false,
    refreshOnNodeFilter: false,
    containerNameRefreshFilter: '',
    ...overrides,
  };
}
