/**
 * One behaviour suite for the three KV discovery backends, against real servers: etcd and ZooKeeper
 * from Debian, Consul emulated (or the real one at CONSUL_HTTP_ADDR).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { KVDiscovery } from '../../src/lib/discovery/kv';
import { createDiscovery } from '../../src/lib/discovery/registry';
import type { DiscoveryConfig, WatchEvent } from '../../src/lib/discovery/types';
import { openStore } from '../../src/lib/kv/open';
import { parseStoreUrl } from '../../src/lib/kv/url';
import { EventLog, startKVServer, startRegistering, type KVServer } from '../helpers/kv-servers';

const HEARTBEAT_MS = 1000;
const TTL_MS = 3000;
const MARGIN_MS = 2000;
const config: DiscoveryConfig = { heartbeatMs: HEARTBEAT_MS, ttlMs: TTL_MS, options: {} };
const ADDRS = ['10.0.0.1:2375', '10.0.0.2:2375', '10.0.0.3:2375'];

let counter = 0;
function uniquePrefix(): string {
  counter += 1;
  return `t${Date.now().toString(36)}${counter}`;
}

const isEntries = (expected: string[]) => (e: WatchEvent) => e.kind === 'entries' && JSON.stringify(e.entries) === JSON.stringify(expected);
const isError = (e: WatchEvent) => e.kind === 'error';

/** Everything a test opened, closed at its end whatever happens. */
class Scope {
  private readonly cleanups: Array<() => Promise<unknown> | unknown> = [];
  readonly abort = new AbortController();

  constructor() {
    this.cleanups.push(() => this.abort.abort());
  }

  async discovery(url: string, cfg: DiscoveryConfig = config): Promise<KVDiscovery> {
    const d = (await createDiscovery(url, cfg)) as KVDiscovery;
    this.cleanups.push(() => d.close());
    return d;
  }

  watch(d: KVDiscovery): EventLog<WatchEvent> {
    return new EventLog(d.watch(this.abort.signal));
  }

  join(d: KVDiscovery, addr: string) {
    const joiner = startRegistering(() => d.register(addr), HEARTBEAT_MS);
    this.cleanups.unshift(() => joiner.stop());
    return joiner;
  }

  async close(): Promise<void> {
    for (const fn of this.cleanups) await fn();
  }
}

for (const kind of ['etcd', 'consul', 'zk'] as const) {
  describe(`${kind}:// discovery`, () => {
    let server: KVServer;
    beforeAll(async () => {
      server = await startKVServer(kind);
    }, 120_000);
    afterAll(async () => {
      await server?.destroy();
    });

    const url = (prefix: string) => `${kind}://${server.addr}/${prefix}`;

    test('the watch sees every joined node; a node that stops joining disappears within the TTL', async () => {
      const scope = new Scope();
      try {
        const prefix = uniquePrefix();
        const watcher = scope.watch(await scope.discovery(url(prefix)));
        await watcher.waitFor('the first (empty) entry set', isEntries([]), 10_000);
        const joiners = [];
        for (const addr of ADDRS) joiners.push(scope.join(await scope.discovery(url(prefix)), addr));
        const all = await watcher.waitFor('all three nodes', isEntries(ADDRS), 10_000);

        const stoppedAt = Date.now();
        await joiners[2]!.stop();
        const gone = await watcher.waitFor('the stopped node to disappear', isEntries(ADDRS.slice(0, 2)), TTL_MS + MARGIN_MS + 1000, all.index + 1);
        const after = gone.at - stoppedAt;
        expect(after).toBeLessThanOrEqual(TTL_MS + MARGIN_MS);
        // It lived on until about TTL after its last registration (at most one heartbeat before the stop).
        expect(after).toBeGreaterThanOrEqual(TTL_MS - HEARTBEAT_MS - 500);
        expect(joiners[0]!.failures + joiners[1]!.failures).toBe(0);
      } finally {
        await scope.close();
      }
    });

    test('kv.path chooses the directory under the URL prefix', async () => {
      const scope = new Scope();
      try {
        const prefix = uniquePrefix();
        const custom: DiscoveryConfig = { ...config, options: { 'kv.path': 'custom/place' } };
        const joiner = await scope.discovery(url(prefix), custom);
        expect(joiner.dir).toBe(`${prefix}/custom/place`);
        await joiner.register('10.1.0.1:2375');
        const watcher = scope.watch(await scope.discovery(url(prefix), custom));
        await watcher.waitFor('the node under kv.path', isEntries(['10.1.0.1:2375']), 10_000);
        const defaultWatcher = scope.watch(await scope.discovery(url(prefix)));
        await defaultWatcher.waitFor('an empty default directory', isEntries([]), 10_000);

        // The raw layout: <prefix>/<kv.path>/<host:port> = host:port, like Swarm v1.
        const store = await openStore(parseStoreUrl(kind, server.addr));
        try {
          expect(await store.get(`${prefix}/custom/place/10.1.0.1:2375`)).toBe('10.1.0.1:2375');
          expect(await store.list(`${prefix}/custom/place`)).toEqual([{ key: `${prefix}/custom/place/10.1.0.1:2375`, value: '10.1.0.1:2375' }]);
          expect(await store.get(`${prefix}/docker/swarm/nodes/10.1.0.1:2375`)).toBeUndefined();
        } finally {
          await store.close();
        }
      } finally {
        await scope.close();
      }
    });

    test('a store restart under a running watch: error, then the entries again', async () => {
      if (!server.restartable) return; // external Consul
      const scope = new Scope();
      try {
        const prefix = uniquePrefix();
        const watcher = scope.watch(await scope.discovery(url(prefix)));
        for (const addr of ADDRS) scope.join(await scope.discovery(url(prefix)), addr);
        const before = await watcher.waitFor('all three nodes', isEntries(ADDRS), 10_000);

        await server.restart(1000);
        const restartedAt = Date.now();
        const error = await watcher.waitFor('an error while the store is away', isError, 15_000, before.index + 1);
        const back = await watcher.waitFor('all three nodes again', isEntries(ADDRS), 30_000, error.index + 1);
        expect(back.at - restartedAt).toBeLessThan(20_000);
      } finally {
        await scope.close();
      }
    });

    if (kind === 'consul') {
      test('consul: a store that lost its data (index back to 1, sessions gone) is re-populated by the joins', async () => {
        if (!server.restartable) return;
        const emulator = (server as KVServer & { emulator?: { restart(o: { keepData: boolean; downMs: number }): Promise<void> } }).emulator!;
        const scope = new Scope();
        try {
          const prefix = uniquePrefix();
          const watcher = scope.watch(await scope.discovery(url(prefix)));
          for (const addr of ADDRS) scope.join(await scope.discovery(url(prefix)), addr);
          const before = await watcher.waitFor('all three nodes', isEntries(ADDRS), 10_000);
          await emulator.restart({ keepData: false, downMs: 500 });
          const error = await watcher.waitFor('an error while the store is away', isError, 15_000, before.index + 1);
          await watcher.waitFor('all three nodes again', isEntries(ADDRS), 20_000, error.index + 1);
        } finally {
          await scope.close();
        }
      });
    }
  });
}
