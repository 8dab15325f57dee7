import { describe, expect, test } from 'bun:test';
import { expandRange } from '../../src/lib/discovery/range';
import { parseEntries } from '../../src/lib/discovery/entries';
import { createDiscovery, parseDiscoveryUrl } from '../../src/lib/discovery/registry';
import { parseFileContent } from '../../src/lib/discovery/file';
import { parseTokenLocation } from '../../src/lib/discovery/token';
import type { DiscoveryConfig, WatchEvent } from '../../src/lib/discovery/types';

const config: DiscoveryConfig = { heartbeatMs: 1000, ttlMs: 3000, options: {} };

async function firstEvent(url: string): Promise<WatchEvent> {
  const d = await createDiscovery(url, config);
  const stop = new AbortController();
  for await (const event of d.watch(stop.signal)) {
    stop.abort();
    return event;
  }
  throw new Error('watch ended without an event');
}

describe('range patterns', () => {
  test('expand the first [from:to] inclusively', () => {
    expect(expandRange('10.0.0.[10:12]:2375')).toEqual(['10.0.0.10:2375', '10.0.0.11:2375', '10.0.0.12:2375']);
  });
  test('work in the port, even mid-number', () => {
    expect(expandRange('127.0.0.1:[2375:2377]')).toEqual(['127.0.0.1:2375', '127.0.0.1:2376', '127.0.0.1:2377']);
    expect(expandRange('192.168.1.2:[2:4]375')).toEqual(['192.168.1.2:2375', '192.168.1.2:3375', '192.168.1.2:4375']);
  });
  test('a single-value range and plain entries', () => {
    expect(expandRange('10.0.0.[5:5]:1')).toEqual(['10.0.0.5:1']);
    expect(expandRange('h:1')).toEqual(['h:1']);
  });
  test('reject a reversed range', () => {
    expect(() => expandRange('10.0.0.[5:1]:2375')).toThrow('invalid range [5:1] in "10.0.0.[5:1]:2375": start is greater than end');
  });
  test('reject malformed and oversized ranges', () => {
    expect(() => expandRange('10.0.0.[a:3]:2375')).toThrow('invalid range');
    expect(() => expandRange('10.0.0.[3]:2375')).toThrow('invalid range');
    expect(() => expandRange('10.0.[0:999999]:2375')).toThrow('more than 65536 entries');
  });
});

describe('discovery URLs', () => {
  test('scheme and rest', () => {
    expect(parseDiscoveryUrl('token://abc')).toEqual({ scheme: 'token', rest: 'abc' });
    expect(parseDiscoveryUrl('file:///etc/cluster')).toEqual({ scheme: 'file', rest: '/etc/cluster' });
    expect(parseDiscoveryUrl('NODES://a:1')).toEqual({ scheme: 'nodes', rest: 'a:1' });
  });
  test('a bare list is nodes://', () => {
    expect(parseDiscoveryUrl('10.0.0.1:2375,10.0.0.2:2375')).toEqual({ scheme: 'nodes', rest: '10.0.0.1:2375,10.0.0.2:2375' });
  });
  test('unknown schemes and empty URLs are errors', () => {
    expect(() => parseDiscoveryUrl('foo://x')).toThrow('unsupported discovery scheme "foo://"');
    expect(() => parseDiscoveryUrl('  ')).toThrow('discovery URL is empty');
  });
});

describe('nodes:// entries', () => {
  test('expanded, deduplicated and sorted numerically', async () => {
    expect(await firstEvent('nodes://10.0.0.[9:11]:2375,10.0.0.10:2375,a:1')).toEqual({
      kind: 'entries',
      entries: ['10.0.0.9:2375', '10.0.0.10:2375', '10.0.0.11:2375', 'a:1'],
    });
    expect(await firstEvent('10.0.0.1:2375')).toEqual({ kind: 'entries', entries: ['10.0.0.1:2375'] });
  });
  test('IPv6 and hostnames', () => {
    expect(parseEntries(['[::1]:2375', 'node-1.example:2376'])).toEqual(['[::1]:2375', 'node-1.example:2376']);
  });
  test('missing port names the entry and hints at token://', () => {
    expect(() => parseEntries(['10.0.0.1'])).toThrow(
      'address 10.0.0.1: missing port in address, please check you are using the correct discovery (missing token:// ?)',
    );
  });
  test('bad ports and garbage are rejected', () => {
    expect(() => parseEntries(['10.0.0.1:0'])).toThrow('port must be between 1 and 65535');
    expect(() => parseEntries(['10.0.0.1:70000'])).toThrow('port must be between 1 and 65535');
    expect(() => parseEntries(['h:x'])).toThrow('expected host:port');
    expect(() => parseEntries(['%%%:1'])).toThrow('invalid host');
    expect(() => parseEntries([':2375'])).toThrow('address :2375');
  });
  test('reversed range in a nodes URL is an error', async () => {
    await expect(createDiscovery('nodes://10.0.0.[5:1]', config)).rejects.toThrow('start is greater than end');
  });
  test('an empty list is an error', async () => {
    await expect(createDiscovery('nodes://,', config)).rejects.toThrow('at least one host:port');
  });
  test('nodes:// cannot be joined', async () => {
    const d = await createDiscovery('nodes://a:1', config);
    expect(d.canRegister).toBe(false);
    await expect(d.register('a:1')).rejects.toThrow('engines need no join');
  });
});

describe('file:// content', () => {
  test('skips blanks and comments, expands ranges', () => {
    const text = '# cluster\n10.0.0.1:2375\n\n10.0.0.[2:3]:2375  # two more\n   \n#10.0.0.9:2375\r\nh:1\r\n';
    expect(parseFileContent(text)).toEqual(['10.0.0.1:2375', '10.0.0.2:2375', '10.0.0.3:2375', 'h:1']);
  });
  test('a bad line is an error', () => {
    expect(() => parseFileContent('10.0.0.1:2375\nnot-an-address\n')).toThrow('address not-an-address: missing port');
  });
  test('a missing file is a clear watch error', async () => {
    const event = await firstEvent('file:///nonexistent/swarm-cluster');
    expect(event.kind).toBe('error');
    if (event.kind === 'error') expect(event.error.message).toStartWith('cannot read discovery file /nonexistent/swarm-cluster');
  });
});

describe('token:// locations', () => {
  test('a bare token uses the configured or default service', () => {
    expect(parseTokenLocation('abc123')).toEqual({ base: 'http://127.0.0.1:8600/v1', token: 'abc123' });
    expect(parseTokenLocation('abc', 'http://10.0.0.5:9000/v1/')).toEqual({ base: 'http://10.0.0.5:9000/v1', token: 'abc' });
  });
  test('the v1 inline form names the service', () => {
    expect(parseTokenLocation('10.0.0.5:8600/v1/abc')).toEqual({ base: 'http://10.0.0.5:8600/v1', token: 'abc' });
    expect(parseTokenLocation('discovery.example.com/v1/abc')).toEqual({ base: 'https://discovery.example.com/v1', token: 'abc' });
  });
  test('bad tokens and service URLs are errors', () => {
    expect(() => parseTokenLocation('')).toThrow('invalid cluster token');
    expect(() => parseTokenLocation('a b')).toThrow('invalid cluster token');
    expect(() => parseTokenLocation('abc', 'ftp://x/v1')).toThrow('only http:// and https://');
    expect(() => parseTokenLocation('abc', 'not a url')).toThrow('invalid discovery service URL');
  });
});
