import { describe, expect, test } from 'bun:test';
import { planManage, type ManageInput } from '../../../src/lib/manager/plan';
import { manageInput } from '../../helpers/manage-input';

const base: ManageInput = manageInput();

describe('manage flags (spec §1.4)', () => {
  test('defaults: tcp://127.0.0.1:2375, spread, all seven filters, 5% overcommit', () => {
    const p = planManage(base);
    expect(p.listen).toEqual([{ kind: 'tcp', host: '127.0.0.1', port: 2375 }]);
    expect(p.strategy).toBe('spread');
    expect(p.filters).toEqual(['health', 'port', 'containerslots', 'dependency', 'affinity', 'constraint', 'whitelist']);
    expect(p.overcommit).toBe(0.05);
    expect(p.refreshMinMs).toBe(30_000);
  });
  test('v1 messages for bad values', () => {
    expect(() => planManage({ ...base, strategy: 'best' })).toThrow('strategy not supported');
    expect(planManage({ ...base, strategy: 'binpacking' }).strategy).toBe('binpack');
    expect(() => planManage({ ...base, filters: ['health', 'nope'] })).toThrow('filter not supported');
    expect(() => planManage({ ...base, refreshMin: '0s' })).toThrow('min refresh interval should be a positive number');
    expect(() => planManage({ ...base, refreshMin: '30s', refreshMax: '10s' })).toThrow('max refresh interval cannot be less than min refresh interval');
    expect(() => planManage({ ...base, refreshRetry: 5 })).toThrow('--engine-refresh-retry is deprecated. Use --engine-failure-retry');
    expect(() => planManage({ ...base, heartbeat: '500ms' })).toThrow('--heartbeat should be at least one second');
    expect(() => planManage({ ...base, clusterDriver: 'mesos-experimental' })).toThrow('unsupported cluster');
    expect(() => planManage({ ...base, clusterOpts: ['swarm.overcommit=-1'] })).toThrow('swarm.overcommit');
    expect(() => planManage({ ...base, clusterOpts: ['nokey'] })).toThrow('--cluster-opt must contain key=value strings');
    expect(() => planManage({ ...base, hosts: ['udp://1.2.3.4:1'] })).toThrow('unsupported protocol');
  });
  test('replication needs --advertise and a KV discovery', () => {
    expect(() => planManage({ ...base, replication: true })).toThrow('--advertise address must be provided when using --leader-election');
    expect(() => planManage({ ...base, replication: true, advertise: '10.0.0.5:3375' })).toThrow('Leader election is only supported with consul, etcd and zookeeper discovery.');
    expect(() => planManage({ ...base, discoveryUrl: 'file:///etc/swarm', replication: true, advertise: '10.0.0.5:3375' })).toThrow('Leader election is only supported');
    expect(() => planManage({ ...base, discoveryUrl: 'etcd://127.0.0.1:2379', replication: true, advertise: '10.0.0.5:3375', replicationTtl: '0s' })).toThrow('--replication-ttl');
    for (const url of ['etcd://127.0.0.1:2379/p', 'consul://127.0.0.1:8500', 'zk://127.0.0.1:2181']) {
      expect(planManage({ ...base, discoveryUrl: url, replication: true, advertise: '10.0.0.5:3375', replicationTtl: '5s' }).replication).toEqual({ advertise: '10.0.0.5:3375', ttlMs: 5000 });
    }
    expect(planManage({ ...base, discoveryUrl: 'etcd://127.0.0.1:2379' }).replication).toBeUndefined();
  });
  test('filters keep the given order; cluster opts parsed', () => {
    const p = planManage({ ...base, filters: ['constraint', 'health'], clusterOpts: ['swarm.overcommit=0.5', 'swarm.createretry=2'], hosts: ['tcp://0.0.0.0:3375', 'unix:///tmp/s.sock'] });
    expect(p.filters).toEqual(['constraint', 'health']);
    expect(p.overcommit).toBe(0.5);
    expect(p.createRetry).toBe(2);
    expect(p.listen).toHaveLength(2);
  });
});
