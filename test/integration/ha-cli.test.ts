/** `swarm manage --replication` flag checks on the compiled binary (no engines needed). */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SwarmBinary } from '../helpers/swarm-bin';

let bin: SwarmBinary;
beforeAll(() => {
  bin = new SwarmBinary();
});
afterAll(() => bin?.cleanup());

describe('manage --replication flags', () => {
  test('needs a KV discovery and --advertise, with v1 messages', async () => {
    const cases: [string[], string][] = [
      [['--replication', '--advertise', '127.0.0.1:4000', 'nodes://127.0.0.1:1'], 'Leader election is only supported with consul, etcd and zookeeper discovery.'],
      [['--replication', '--advertise', '127.0.0.1:4000', 'file:///etc/swarm-cluster'], 'Leader election is only supported with consul, etcd and zookeeper discovery.'],
      [['--replication', 'etcd://127.0.0.1:1'], '--advertise address must be provided when using --leader-election'],
      [['--replication', '--advertise', 'nope', 'etcd://127.0.0.1:1'], '--advertise should be of the form ip:port or hostname:port'],
      [['--replication', '--advertise', '127.0.0.1:4000', '--replication-ttl', '0s', 'etcd://127.0.0.1:1'], '--replication-ttl'],
    ];
    for (const [flags, message] of cases) {
      const r = await bin.run(['manage', ...flags]);
      expect({ flags, failed: r.code !== 0, err: r.stderr.includes(message) }).toEqual({ flags, failed: true, err: true });
    }
  });

  test('--help documents the flags', async () => {
    const r = await bin.run(['manage', '--help']);
    expect(r.stdout).toContain('--replication');
    expect(r.stdout).toContain('--replication-ttl');
    expect(r.stdout).not.toMatch(/--replication\s[^\n]*not supported/);
  });
});
