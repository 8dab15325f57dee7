/**
 * The election itself on real stores (etcd, ZooKeeper, the Consul emulator: test/helpers/kv-servers.ts),
 * in-process and fast: one primary, the other follows it; the primary resigns → the other takes
 * over at once; the store goes away and comes back → a primary again (v1 never campaigned again
 * after a store outage). A primary killed outright is in test/integration/ha.test.ts.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { openStore } from '../../src/lib/kv/open';
import { kvKey, LEADER_PATH, type KVStore } from '../../src/lib/kv/store';
import { setLogSink } from '../../src/lib/log';
import { Replication } from '../../src/lib/manager/replication';
import { startKVServer, type KVServer } from '../helpers/kv-servers';

let server: KVServer;
let kind: 'etcd' | 'zk' | 'consul' = 'etcd';
const servers: KVServer[] = [];
const stores: KVStore[] = [];
const lines: string[] = [];
const KEY = kvKey('hatest', LEADER_PATH);
const TTL = 2000;

async function newManager(addr: string): Promise<{ r: Replication; stop: AbortController; done: Promise<void> }> {
  const [host, port] = server.addr.split(':');
  const store = await openStore({ backend: kind, addrs: [`${host}:${port}`], prefix: '' }, { retryMs: 300, opTimeoutMs: 1000 });
  stores.push(store);
  const r = new Replication({ store, key: KEY, advertise: addr, ttlMs: TTL, retryMs: 300 });
  const stop = new AbortController();
  return { r, stop, done: r.run(stop.signal) };
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; log:\n${lines.slice(-30).join('\n')}`);
    await Bun.sleep(50);
  }
  return Date.now() - t0;
}

setLogSink((l) => lines.push(l));

afterAll(async () => {
  setLogSink((l) => process.stderr.write(l + '\n'));
  for (const s of stores) await s.close().catch(() => undefined);
  for (const s of servers) await s.destroy().catch(() => undefined);
});

describe.each(['etcd', 'zk', 'consul'] as const)('leader election on %s', (k) => {
  test('one primary, the other a replica naming it; resign → takeover; store restart → a primary again', async () => {
    kind = k;
    lines.length = 0;
    server = await startKVServer(k);
    servers.push(server);
    const a = await newManager('10.0.0.1:4000');
    await until('a primary', () => a.r.isPrimary(), 5000);
    const b = await newManager('10.0.0.2:4000');
    await until('b sees a', () => b.r.leader() === '10.0.0.1:4000', 5000);
    expect(b.r.isPrimary()).toBe(false);
    expect(b.r.roleInfo()).toEqual({ role: 'replica', primary: '10.0.0.1:4000' });
    expect(a.r.roleInfo()).toEqual({ role: 'primary' });
    expect(lines.some((l) => l.includes('Leader Election: Cluster leadership acquired'))).toBe(true);
    expect(lines.some((l) => l.includes('New leader elected: 10.0.0.1:4000'))).toBe(true);

    // Clean shutdown of the primary: it resigns, b takes over at once (well within the TTL).
    a.stop.abort();
    await a.done;
    const took = await until('b primary', () => b.r.isPrimary(), TTL + 2000);
    expect(took).toBeLessThan(TTL + 2000);

    // A new manager follows b.
    const c = await newManager('10.0.0.3:4000');
    await until('c sees b', () => c.r.leader() === '10.0.0.2:4000', 5000);

    // The store stops for longer than the TTL: b loses the lock; once it is back someone leads again.
    await server.stop();
    await until('b loses leadership', () => !b.r.isPrimary(), TTL + 5000);
    expect(lines.some((l) => l.includes('Leader Election: Cluster leadership lost'))).toBe(true);
    await server.start();
    // Consul keeps a session up to 2 × its TTL (at least 10 s) after the last renewal: allow for it.
    await until('a primary again', () => b.r.isPrimary() || c.r.isPrimary(), 45_000);
    const primary = b.r.isPrimary() ? b : c;
    const other = primary === b ? c : b;
    await until('the other follows', () => other.r.leader() === primary.r.self, 10_000);
    expect(other.r.isPrimary()).toBe(false);

    b.stop.abort();
    c.stop.abort();
    await Promise.all([b.done, c.done]);
  }, 90_000);
});
