/**
 * The TTL lock of the KV layer (the base of manager leader election at <prefix>/docker/swarm/leader)
 * against the three stores: mutual exclusion, hand-over on release, take-over when the holder dies,
 * loss detection, and the leader watch that followers use.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { watchLeader, type LeaderEvent } from '../../src/lib/kv/lock';
import { openStore } from '../../src/lib/kv/open';
import { kvKey, LEADER_PATH, type KVStore } from '../../src/lib/kv/store';
import { parseStoreUrl } from '../../src/lib/kv/url';
import { EventLog, startKVServer, type KVServer } from '../helpers/kv-servers';

/** Consul cannot do less: sessions live 10 s at least and are invalidated after 2 × TTL. */
const LOCK_TTL_MS = { etcd: 3000, zk: 3000, consul: 20_000 } as const;
const MARGIN_MS = 2000;

const isLeader = (value: string | undefined) => (e: LeaderEvent) => e.kind === 'leader' && e.leader === value;

/**
 * The error a promise rejects with. (Not `expect(p).rejects`: bun waits for that promise without
 * running I/O, which stalls network clients until their deadlines.)
 */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

let counter = 0;
function uniquePrefix(): string {
  counter += 1;
  return `l${Date.now().toString(36)}${counter}`;
}

const childDir = mkdtempSync(join(tmpdir(), 'swarm-kv-lock-'));
const childScript = join(childDir, 'holder.ts');
writeFileSync(
  childScript,
  `import { openStore } from ${JSON.stringify(resolve(import.meta.dir, '../../src/lib/kv/open.ts'))};
import { parseStoreUrl } from ${JSON.stringify(resolve(import.meta.dir, '../../src/lib/kv/url.ts'))};
const [backend, addr, key, value, ttl] = process.argv.slice(2);
const store = await openStore(parseStoreUrl(backend, addr));
await store.newLock(key, value, { ttlMs: Number(ttl) }).acquire(new AbortController().signal);
console.log('ACQUIRED');
setInterval(() => {}, 1 << 30);
`,
);

/** Runs a lock holder in another process; resolves once it holds the lock. */
async function holderProcess(backend: string, addr: string, key: string, value: string, ttlMs: number) {
  const child = spawn(process.execPath, [childScript, backend, addr, key, value, String(ttlMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stderr.on('data', (d) => (out += d.toString()));
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`lock holder did not acquire within 20 s: ${out}`)), 20_000);
    child.stdout.on('data', (d) => {
      out += d.toString();
      if (out.includes('ACQUIRED')) {
        clearTimeout(timer);
        resolvePromise();
      }
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited (${code}): ${out}`)));
  });
  return child;
}

afterAll(() => rmSync(childDir, { recursive: true, force: true }));

for (const kind of ['etcd', 'consul', 'zk'] as const) {
  describe(`${kind} lock`, () => {
    const ttlMs = LOCK_TTL_MS[kind];
    let server: KVServer;
    const stores: KVStore[] = [];
    const abort = new AbortController();
    beforeAll(async () => {
      server = await startKVServer(kind);
    }, 120_000);
    afterAll(async () => {
      abort.abort();
      await Promise.all(stores.map((s) => s.close()));
      await server?.destroy();
    });

    async function store(): Promise<KVStore> {
      const s = await openStore(parseStoreUrl(kind, server.addr), { retryMs: 500 });
      stores.push(s);
      return s;
    }

    test('one of two contenders holds it; release hands it over at once; followers see each leader', async () => {
      const key = kvKey(uniquePrefix(), LEADER_PATH);
      const [a, b, w] = [await store(), await store(), await store()];
      const leaders = new EventLog(watchLeader(w, key, abort.signal));
      await leaders.waitFor('no leader yet', isLeader(undefined), 10_000);

      const heldA = await a.newLock(key, '10.0.0.1:3375', { ttlMs }).acquire(abort.signal);
      let bAcquiredAt = 0;
      const bAcquire = b
        .newLock(key, '10.0.0.2:3375', { ttlMs })
        .acquire(abort.signal)
        .then((held) => {
          bAcquiredAt = Date.now();
          return held;
        });
      const first = await leaders.waitFor('leader A', isLeader('10.0.0.1:3375'), 10_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(bAcquiredAt).toBe(0); // mutual exclusion
      await heldA.renew();
      expect(heldA.lost.aborted).toBe(false);

      const releasedAt = Date.now();
      await heldA.release();
      expect(heldA.lost.aborted).toBe(true);
      const heldB = await bAcquire;
      expect(bAcquiredAt - releasedAt).toBeLessThan(ttlMs + MARGIN_MS);
      expect(bAcquiredAt - releasedAt).toBeLessThan(3000); // a release is seen at once, not after the TTL
      await leaders.waitFor('leader B', isLeader('10.0.0.2:3375'), 5000, first.index + 1);
      expect(await w.get(key)).toBe('10.0.0.2:3375');
      await heldB.release();
      await leaders.waitFor('no leader after the last release', isLeader(undefined), 5000);
    });

    test('the holder dies: another contender takes over within TTL + 2 s', async () => {
      const key = kvKey(uniquePrefix(), LEADER_PATH);
      const [b, w] = [await store(), await store()];
      const leaders = new EventLog(watchLeader(w, key, abort.signal));
      const child = await holderProcess(kind, server.addr, key, '10.0.0.9:3375', ttlMs);
      try {
        const first = await leaders.waitFor('the doomed leader', isLeader('10.0.0.9:3375'), 10_000);
        let acquiredAt = 0;
        const acquire = b
          .newLock(key, '10.0.0.2:3375', { ttlMs })
          .acquire(abort.signal)
          .then((held) => {
            acquiredAt = Date.now();
            return held;
          });
        await new Promise((r) => setTimeout(r, 500));
        expect(acquiredAt).toBe(0);
        const killedAt = Date.now();
        child.kill('SIGKILL'); // no release, no session close: the store must expire it
        const held = await acquire;
        expect(acquiredAt - killedAt).toBeLessThanOrEqual(ttlMs + MARGIN_MS);
        await leaders.waitFor('the new leader', isLeader('10.0.0.2:3375'), 5000, first.index + 1);
        await held.release();
      } finally {
        child.kill('SIGKILL');
      }
    });

    test('a holder whose key is taken away notices at its next renewal', async () => {
      const key = kvKey(uniquePrefix(), LEADER_PATH);
      const [a, w] = [await store(), await store()];
      const held = await a.newLock(key, '10.0.0.1:3375', { ttlMs, renewEveryMs: 500 }).acquire(abort.signal);
      const deletedAt = Date.now();
      await w.delete(key);
      await new Promise<void>((r) => (held.lost.aborted ? r() : held.lost.addEventListener('abort', () => r(), { once: true })));
      expect(Date.now() - deletedAt).toBeLessThan(2000);
      expect(String(held.lost.reason)).toContain('lost');
      expect((await rejection(held.renew())).message).toContain('lost');
      await held.release();
    });

    test('acquire gives up when its signal aborts', async () => {
      const key = kvKey(uniquePrefix(), LEADER_PATH);
      const [a, b] = [await store(), await store()];
      const held = await a.newLock(key, 'x:1', { ttlMs }).acquire(abort.signal);
      const stop = new AbortController();
      const pending = b.newLock(key, 'y:1', { ttlMs }).acquire(stop.signal);
      setTimeout(() => stop.abort(), 300);
      expect((await rejection(pending)).message).toBe('aborted');
      expect(await a.get(key)).toBe('x:1');
      await held.release();
    });
  });
}
