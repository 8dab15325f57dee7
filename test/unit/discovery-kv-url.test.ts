import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiscovery, parseDiscoveryUrl } from '../../src/lib/discovery/registry';
import type { DiscoveryConfig } from '../../src/lib/discovery/types';
import { UserError } from '../../src/lib/errors';
import { isDirectChild, kvKey } from '../../src/lib/kv/store';
import { nodesPath, parseStoreUrl } from '../../src/lib/kv/url';

const config: DiscoveryConfig = { heartbeatMs: 1000, ttlMs: 3000, options: {} };

function userError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('expected a UserError');
}

describe('KV store URLs', () => {
  test('addresses before the first slash, prefix after it', () => {
    expect(parseStoreUrl('etcd', '10.0.0.1:2379,10.0.0.2:2379/swarm/prod')).toEqual({ backend: 'etcd', addrs: ['10.0.0.1:2379', '10.0.0.2:2379'], prefix: 'swarm/prod' });
    expect(parseStoreUrl('zk', 'zk1:2181')).toEqual({ backend: 'zk', addrs: ['zk1:2181'], prefix: '' });
    expect(parseStoreUrl('consul', '[::1]:8500//a//b/')).toEqual({ backend: 'consul', addrs: ['[::1]:8500'], prefix: 'a/b' });
  });

  test('missing address, missing or bad port: one-line UserErrors', () => {
    expect(userError(() => parseStoreUrl('etcd', ''))).toBe('etcd:// discovery needs the address of at least one etcd server, e.g. etcd://10.0.0.1:2379,10.0.0.2:2379/swarm');
    expect(userError(() => parseStoreUrl('consul', '/prefix'))).toContain('consul:// discovery needs the address of at least one Consul server');
    expect(userError(() => parseStoreUrl('zk', 'zk1/swarm'))).toBe('invalid ZooKeeper address in "zk://zk1/swarm": address zk1: missing port in address (ZooKeeper usually listens on port 2181)');
    expect(userError(() => parseStoreUrl('etcd', 'h:99999/x'))).toContain('port must be between 1 and 65535');
    expect(userError(() => parseStoreUrl('etcd', 'h:abc'))).toBe('invalid etcd address in "etcd://h:abc": address h:abc: expected host:port');
    expect(userError(() => parseStoreUrl('etcd', 'h:1,,h:2'))).toContain('empty etcd address');
  });

  test('kv.path: default docker/swarm/nodes, normalized, never empty', () => {
    expect(nodesPath({})).toBe('docker/swarm/nodes');
    expect(nodesPath({ 'kv.path': '/custom/nodes/' })).toBe('custom/nodes');
    expect(userError(() => nodesPath({ 'kv.path': '/' }))).toBe('--discovery-opt kv.path must not be empty');
  });

  test('TLS is used only with all three files, which must be readable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'swarm-kv-tls-'));
    try {
      for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), `${f}\n`);
      const all = { 'kv.cacertfile': join(dir, 'ca.pem'), 'kv.certfile': join(dir, 'cert.pem'), 'kv.keyfile': join(dir, 'key.pem') };
      const tls = parseStoreUrl('etcd', 'h:2379', all).tls!;
      expect(tls.ca.toString()).toBe('ca.pem\n');
      expect(tls.cert.toString()).toBe('cert.pem\n');
      expect(tls.key.toString()).toBe('key.pem\n');
      expect(parseStoreUrl('etcd', 'h:2379', { 'kv.cacertfile': all['kv.cacertfile'] }).tls).toBeUndefined();
      expect(userError(() => parseStoreUrl('consul', 'h:8500', { ...all, 'kv.keyfile': join(dir, 'nope.pem') }))).toContain(`cannot read --discovery-opt kv.keyfile=${join(dir, 'nope.pem')}`);
      expect(userError(() => parseStoreUrl('zk', 'h:2181', all))).toContain('zk:// discovery does not support TLS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('key helpers', () => {
    expect(kvKey('', '/a/', 'b//c', '')).toBe('a/b/c');
    expect(isDirectChild('a/b', 'a/b/c')).toBe(true);
    expect(isDirectChild('a/b', 'a/b/c/d')).toBe(false);
    expect(isDirectChild('a/b', 'a/bc')).toBe(false);
    expect(isDirectChild('', 'x')).toBe(true);
  });
});

describe('KV discovery registration', () => {
  test('etcd://, consul:// and zk:// are registered schemes', () => {
    expect(parseDiscoveryUrl('etcd://h:2379/p')).toEqual({ scheme: 'etcd', rest: 'h:2379/p' });
    expect(parseDiscoveryUrl('consul://h:8500')).toEqual({ scheme: 'consul', rest: 'h:8500' });
    expect(parseDiscoveryUrl('ZK://h:2181/p')).toEqual({ scheme: 'zk', rest: 'h:2181/p' });
  });

  test('the discovery describes the store and the node directory, and can register', async () => {
    const d = await createDiscovery('etcd://127.0.0.1:2379/prod', { ...config, options: { 'kv.path': 'my/nodes' } });
    expect(d.scheme).toBe('etcd');
    expect(d.canRegister).toBe(true);
    expect(d.description).toBe('etcd at 127.0.0.1:2379 (prefix prod), directory prod/my/nodes');
  });

  test('bad URLs and options fail when the discovery is created', async () => {
    await expect(createDiscovery('zk://', config)).rejects.toThrow('zk:// discovery needs the address of at least one ZooKeeper server');
    await expect(createDiscovery('consul://a:8500,b:8500/x', config)).rejects.toThrow('consul:// takes the address of one Consul agent (got 2: a:8500,b:8500)');
    await expect(createDiscovery('etcd://h:2379', { ...config, options: { 'kv.path': '' } })).rejects.toThrow('kv.path must not be empty');
  });

  test('register refuses an address that is not host:port', async () => {
    const d = await createDiscovery('zk://127.0.0.1:1/x', config);
    await expect(d.register('nope')).rejects.toThrow('cannot register nope: address nope: missing port in address');
  });
});
