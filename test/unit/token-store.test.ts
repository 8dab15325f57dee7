import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenStore } from '../../src/lib/token-server/store';
import { createDiscovery } from '../../src/lib/discovery/registry';

const dir = mkdtempSync(join(tmpdir(), 'swarm-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('token store', () => {
  test('tokens are 32 hex characters and unique', async () => {
    const store = await TokenStore.open(undefined);
    const a = await store.createCluster();
    const b = await store.createCluster();
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(a).not.toBe(b);
  });

  test('entries expire after their TTL; refreshing extends it', async () => {
    let now = 1_000_000;
    const store = await TokenStore.open(undefined, () => now);
    const token = await store.createCluster();
    await store.register(token, '10.0.0.2:2375', 3000);
    await store.register(token, '10.0.0.1:2375', 10_000);
    expect(store.entries(token)).toEqual(['10.0.0.1:2375', '10.0.0.2:2375']);
    now += 2000;
    await store.register(token, '10.0.0.2:2375', 3000);
    now += 2500;
    expect(store.entries(token)).toEqual(['10.0.0.1:2375', '10.0.0.2:2375']);
    now += 1000;
    expect(store.entries(token)).toEqual(['10.0.0.1:2375']);
    expect(await store.purgeExpired()).toBe(1);
  });

  test('unknown clusters are reported, deleted ones are gone', async () => {
    const store = await TokenStore.open(undefined);
    expect(store.entries('nope')).toBeUndefined();
    expect(await store.register('nope', 'a:1', 1000)).toBe(false);
    const token = await store.createCluster();
    expect(await store.deleteCluster(token)).toBe(true);
    expect(await store.deleteCluster(token)).toBe(false);
    expect(store.entries(token)).toBeUndefined();
  });

  test('state survives reopening the data file, expiry included', async () => {
    const file = join(dir, 'nested', 'state.json');
    let now = 5_000_000;
    const first = await TokenStore.open(file, () => now);
    const token = await first.createCluster();
    await first.register(token, 'a:1', 60_000);
    await first.register(token, 'b:1', 1_000);
    const second = await TokenStore.open(file, () => now);
    expect(second.entries(token)).toEqual(['a:1', 'b:1']);
    now += 2000;
    expect(second.entries(token)).toEqual(['a:1']);
  });

  test('a corrupt data file is refused, not overwritten', async () => {
    const file = join(dir, 'corrupt.json');
    writeFileSync(file, '{not json');
    await expect(TokenStore.open(file)).rejects.toThrow(`data file ${file} is not a token-server data file`);
    expect(readFileSync(file, 'utf8')).toBe('{not json');
  });
});

describe('file:// discovery re-reads the file every heartbeat', () => {
  test('edits show up as a new entry set', async () => {
    const file = join(dir, 'cluster');
    writeFileSync(file, '10.0.0.1:2375\n');
    const discovery = await createDiscovery(`file://${file}`, { heartbeatMs: 50, ttlMs: 150, options: {} });
    const stop = new AbortController();
    const seen: string[][] = [];
    for await (const event of discovery.watch(stop.signal)) {
      if (event.kind !== 'entries') throw event.error;
      seen.push(event.entries);
      if (seen.length === 1) writeFileSync(file, '10.0.0.1:2375\n10.0.0.[2:3]:2375 # added\n');
      else break;
    }
    stop.abort();
    expect(seen).toEqual([['10.0.0.1:2375'], ['10.0.0.1:2375', '10.0.0.2:2375', '10.0.0.3:2375']]);
  });
});
