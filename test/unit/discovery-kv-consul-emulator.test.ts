/** The Consul emulator follows the documented HTTP API semantics the consul:// backend relies on. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { parseGoDuration, startConsulEmulator, type ConsulEmulator } from '../consul-emulator/server';

let consul: ConsulEmulator;
let base: string;

beforeAll(async () => {
  consul = await startConsulEmulator();
  base = `http://${consul.addr}/v1`;
});
afterAll(async () => {
  await consul.stop();
});

async function call(method: string, path: string, body?: string | object): Promise<{ status: number; index: number; json: unknown; text: string }> {
  const res = await fetch(`${base}${path}`, { method, body: typeof body === 'object' ? JSON.stringify(body) : body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, index: Number(res.headers.get('x-consul-index') ?? 0), json, text };
}

async function session(body: object): Promise<string> {
  const r = await call('PUT', '/session/create', body);
  expect(r.status).toBe(200);
  return (r.json as { ID: string }).ID;
}

describe('consul emulator', () => {
  test('Go durations', () => {
    expect(parseGoDuration('10s')).toBe(10_000);
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('1ms')).toBe(1);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('10')).toBeUndefined();
  });

  test('KV: put, get (base64, null for empty), recurse, keys, 404 with an index, delete', async () => {
    expect((await call('PUT', '/kv/e/a', 'x')).json).toBe(true);
    expect((await call('PUT', '/kv/e/b/c', '')).json).toBe(true);
    const one = await call('GET', '/kv/e/a');
    expect(one.status).toBe(200);
    const [item] = one.json as Array<Record<string, unknown>>;
    expect(item).toMatchObject({ Key: 'e/a', Value: Buffer.from('x').toString('base64'), Flags: 0, LockIndex: 0 });
    expect(one.index).toBe(item!.ModifyIndex as number);
    expect(((await call('GET', '/kv/e/b/c')).json as Array<{ Value: unknown }>)[0]!.Value).toBeNull();
    expect(((await call('GET', '/kv/e/?recurse')).json as Array<{ Key: string }>).map((i) => i.Key)).toEqual(['e/a', 'e/b/c']);
    expect((await call('GET', '/kv/e/?keys&separator=/')).json).toEqual(['e/a', 'e/b/']);
    expect((await call('GET', '/kv/e/a?raw')).text).toBe('x');
    const missing = await call('GET', '/kv/nope');
    expect(missing.status).toBe(404);
    expect(missing.index).toBeGreaterThan(0);
    expect((await call('DELETE', '/kv/e?recurse')).json).toBe(true);
    expect((await call('GET', '/kv/e/?recurse')).status).toBe(404);
  });

  test('cas: 0 creates only, N updates only at that ModifyIndex', async () => {
    expect((await call('PUT', '/kv/cas/k?cas=0', '1')).json).toBe(true);
    expect((await call('PUT', '/kv/cas/k?cas=0', '2')).json).toBe(false);
    const idx = ((await call('GET', '/kv/cas/k')).json as Array<{ ModifyIndex: number }>)[0]!.ModifyIndex;
    expect((await call('PUT', `/kv/cas/k?cas=${idx + 100}`, '3')).json).toBe(false);
    expect((await call('PUT', `/kv/cas/k?cas=${idx}`, '3')).json).toBe(true);
  });

  test('blocking query: waits past the index until a change (deletes too) or the wait time', async () => {
    await call('PUT', '/kv/blk/a', '1');
    const first = await call('GET', '/kv/blk/?recurse');
    let started = Date.now();
    const timedOut = await call('GET', `/kv/blk/?recurse&index=${first.index}&wait=300ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(timedOut.index).toBe(first.index);
    started = Date.now();
    const waiting = call('GET', `/kv/blk/?recurse&index=${first.index}&wait=10s`);
    setTimeout(() => void call('DELETE', '/kv/blk/a'), 200);
    const woke = await waiting;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(woke.status).toBe(404);
    expect(woke.index).toBeGreaterThan(first.index); // the tombstone's index
    // An unrelated key does not wake a prefix query.
    started = Date.now();
    const unrelated = call('GET', `/kv/blk/?recurse&index=${woke.index}&wait=400ms`);
    await call('PUT', '/kv/other', 'x');
    await unrelated;
    expect(Date.now() - started).toBeGreaterThanOrEqual(380);
  });

  test('sessions: TTL bounds, renew, destroy, info', async () => {
    const tooShort = await call('PUT', '/session/create', { TTL: '3s' });
    expect(tooShort.status).toBe(400);
    expect(tooShort.text).toContain('Invalid Session TTL');
    expect(tooShort.text).toContain('must be between [10s=24h0m0s]');
    expect((await call('PUT', '/session/create', { TTL: '25h' })).status).toBe(400);
    expect((await call('PUT', '/session/create', { Behavior: 'explode' })).status).toBe(400);
    const id = await session({ TTL: '10s', Name: 'n', Behavior: 'delete', LockDelay: '1ms' });
    const renewed = await call('PUT', `/session/renew/${id}`);
    expect(renewed.status).toBe(200);
    expect((renewed.json as Array<Record<string, unknown>>)[0]).toMatchObject({ ID: id, TTL: '10s', Behavior: 'delete', LockDelay: 1_000_000, Name: 'n' });
    expect(((await call('GET', `/session/info/${id}`)).json as unknown[]).length).toBe(1);
    expect((await call('PUT', `/session/destroy/${id}`)).json).toBe(true);
    const gone = await call('PUT', `/session/renew/${id}`);
    expect(gone.status).toBe(404);
    expect(gone.text).toBe(`Session id '${id}' not found`);
    expect((await call('GET', `/session/info/${id}`)).json).toEqual([]);
    expect((await call('PUT', '/kv/x?acquire=00000000-0000-0000-0000-000000000000', 'v')).status).toBe(500);
  });

  test('acquire/release: one holder, LockIndex, release without lock-delay', async () => {
    const s1 = await session({ LockDelay: '0s' });
    const s2 = await session({ LockDelay: '0s' });
    expect((await call('PUT', `/kv/lk?acquire=${s1}`, 'one')).json).toBe(true);
    expect((await call('PUT', `/kv/lk?acquire=${s2}`, 'two')).json).toBe(false);
    expect((await call('PUT', `/kv/lk?acquire=${s1}`, 'one-again')).json).toBe(true); // re-acquire by the holder
    let item = ((await call('GET', '/kv/lk')).json as Array<Record<string, unknown>>)[0]!;
    expect(item).toMatchObject({ Session: s1, LockIndex: 1, Value: Buffer.from('one-again').toString('base64') });
    expect((await call('PUT', `/kv/lk?release=${s2}`, 'x')).json).toBe(false);
    expect((await call('PUT', `/kv/lk?release=${s1}`, 'free')).json).toBe(true);
    item = ((await call('GET', '/kv/lk')).json as Array<Record<string, unknown>>)[0]!;
    expect(item.Session).toBeUndefined();
    expect((await call('PUT', `/kv/lk?acquire=${s2}`, 'two')).json).toBe(true);
    item = ((await call('GET', '/kv/lk')).json as Array<Record<string, unknown>>)[0]!;
    expect(item).toMatchObject({ Session: s2, LockIndex: 2 });
  });

  test('invalidation: Behavior=delete deletes, release releases; lock-delay blocks re-acquisition', async () => {
    const del = await session({ Behavior: 'delete', LockDelay: '0s' });
    await call('PUT', `/kv/inv/d?acquire=${del}`, 'd');
    const rel = await session({ Behavior: 'release', LockDelay: '700ms' });
    await call('PUT', `/kv/inv/r?acquire=${rel}`, 'r');
    consul.state.invalidate(del); // what a TTL expiry does
    consul.state.invalidate(rel);
    expect((await call('GET', '/kv/inv/d')).status).toBe(404);
    const released = ((await call('GET', '/kv/inv/r')).json as Array<Record<string, unknown>>)[0]!;
    expect(released.Session).toBeUndefined();
    expect(released.Value).toBe(Buffer.from('r').toString('base64'));
    const other = await session({});
    expect((await call('PUT', `/kv/inv/r?acquire=${other}`, 'o')).json).toBe(false); // lock-delay
    await new Promise((r) => setTimeout(r, 800));
    expect((await call('PUT', `/kv/inv/r?acquire=${other}`, 'o')).json).toBe(true);
  });

  test('a TTL session arms its expiry timer; expiry with Behavior=delete deletes its keys', async () => {
    const id = await session({ TTL: '10s', Behavior: 'delete' });
    const s = consul.state.sessions.get(id)!;
    expect(s.TTL).toBe('10s');
    // The timer is armed at 2 × TTL (20 s here: kv-lock.test.ts measures it); fire it now instead.
    expect(s.timer).toBeDefined();
    await call('PUT', `/kv/ttl/k?acquire=${id}`, 'v');
    consul.state.invalidate(id);
    expect((await call('GET', '/kv/ttl/k')).status).toBe(404);
  });

  test('status/leader and restarts (with and without data)', async () => {
    expect((await call('GET', '/status/leader')).json).toBe('127.0.0.1:8300');
    await call('PUT', '/kv/keep', 'v');
    const before = (await call('GET', '/kv/keep')).index;
    await consul.restart({ keepData: true });
    expect((await call('GET', '/kv/keep')).index).toBe(before);
    await consul.restart({ keepData: false });
    const after = await call('GET', '/kv/keep');
    expect(after.status).toBe(404);
    expect(after.index).toBeLessThan(before); // clients must reset their blocking index
  });
});
