import { describe, expect, test } from 'bun:test';
import { buildInfo, systemStatus, type NodeView } from '../../../src/lib/api/info';
import { bytesSize, containerStatus, humanDuration } from '../../../src/lib/api/format';
import { ApiError } from '../../../src/lib/errors';
import { parseFilters } from '../../../src/lib/api/respond';
import { compile } from '../../../src/lib/api/router';
import { imageMatches, normalizeImageRef } from '../../../src/lib/scheduler/reference';

function node(over: Partial<NodeView>): NodeView {
  return {
    name: 'node-1',
    addr: '10.0.0.1:2375',
    id: 'ABCD|10.0.0.1:2375',
    status: 'Healthy',
    healthy: true,
    containers: { total: 3, running: 2, paused: 0, stopped: 1 },
    images: 4,
    reservedCpus: 1,
    totalCpus: 2,
    reservedMemory: 1024 ** 3,
    totalMemory: 2.053 * 1024 ** 3,
    labels: { storagedriver: 'overlay2', ostype: 'linux' },
    error: '',
    updatedAt: new Date('2026-01-02T03:04:05.678Z'),
    serverVersion: '20.10.24',
    registered: true,
    ...over,
  };
}

describe('docker info (spec §3.3)', () => {
  test('SystemStatus lists role, strategy, filters and one block per node, naturally sorted', () => {
    const s = systemStatus({
      nodes: [node({ name: 'node-10', addr: '10.0.0.10:2375' }), node({}), node({ name: '', status: 'Pending', healthy: false, registered: false, error: 'connection refused', addr: '10.0.0.9:2375', id: '' })],
      strategy: 'spread',
      filters: ['health', 'port'],
      serverVersion: 'swarm/1.2.9',
      eventsListeners: 0,
    });
    expect(s.slice(0, 4)).toEqual([
      ['Role', 'primary'],
      ['Strategy', 'spread'],
      ['Filters', 'health, port'],
      ['Nodes', '3'],
    ]);
    const names = s.filter(([k]) => /^ [^ ]/.test(k)).map(([k]) => k);
    expect(names).toEqual([' (unknown)', ' node-1', ' node-10']);
    const n1 = s.slice(s.findIndex(([k]) => k === ' node-1'));
    expect(n1.slice(0, 10)).toEqual([
      [' node-1', '10.0.0.1:2375'],
      ['  └ ID', 'ABCD|10.0.0.1:2375'],
      ['  └ Status', 'Healthy'],
      ['  └ Containers', '3 (2 Running, 0 Paused, 1 Stopped)'],
      ['  └ Reserved CPUs', '1 / 2'],
      ['  └ Reserved Memory', '1 GiB / 2.053 GiB'],
      ['  └ Labels', 'ostype=linux, storagedriver=overlay2'],
      ['  └ UpdatedAt', '2026-01-02T03:04:05Z'],
      ['  └ ServerVersion', '20.10.24'],
      [' node-10', '10.0.0.10:2375'],
    ]);
    const pending = s.slice(s.findIndex(([k]) => k === ' (unknown)'));
    expect(pending).toContainEqual(['  └ Containers', '3']);
    expect(pending).toContainEqual(['  └ Error', 'connection refused']);
  });

  test('totals count validated engines only', () => {
    const info = buildInfo({ nodes: [node({}), node({ registered: false, healthy: false })], strategy: 'spread', filters: [], serverVersion: 'swarm/1.2.9', eventsListeners: 2 });
    expect(info.Containers).toBe(3);
    expect(info.ContainersRunning).toBe(2);
    expect(info.Images).toBe(4);
    expect(info.NCPU).toBe(2);
    expect(info.ServerVersion).toBe('swarm/1.2.9');
    expect(info.NEventsListener).toBe(2);
  });
});

describe('formats', () => {
  test('durations as docker ps prints them', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(45_000)).toBe('45 seconds');
    expect(humanDuration(90_000)).toBe('About a minute');
    expect(humanDuration(5 * 60_000)).toBe('5 minutes');
    expect(humanDuration(3_600_000)).toBe('About an hour');
    expect(humanDuration(3 * 86_400_000)).toBe('3 days');
  });
  test('sizes in binary units', () => {
    expect(bytesSize(0)).toBe('0 B');
    expect(bytesSize(1024 ** 3)).toBe('1 GiB');
    expect(bytesSize(64 * 1024 ** 2)).toBe('64 MiB');
  });
  test('status recomputed from state', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(containerStatus({ Status: 'running', StartedAt: '2026-01-01T00:05:00Z' }, 'x', now)).toBe('Up 5 minutes');
    expect(containerStatus({ Status: 'exited', ExitCode: 3, FinishedAt: '2026-01-01T00:09:30Z' }, 'x', now)).toBe('Exited (3) 30 seconds ago');
    expect(containerStatus({ Status: 'paused', StartedAt: '2026-01-01T00:09:00Z' }, 'x', now)).toBe('Up About a minute (Paused)');
    expect(containerStatus({ Status: 'created' }, 'x', now)).toBe('Created');
    expect(containerStatus(undefined, 'cached', now)).toBe('cached');
  });
});

describe('request parsing', () => {
  test('filters in both JSON forms; malformed → 400', () => {
    expect(parseFilters('{"name":["web"]}').get('name')).toEqual(['web']);
    expect(parseFilters('{"status":{"running":true}}').get('status')).toEqual(['running']);
    expect(() => parseFilters('{bad')).toThrow(ApiError);
    try {
      parseFilters('[1]');
    } catch (e) {
      expect((e as ApiError).status).toBe(400);
    }
  });
  test('route patterns: {x} is one segment, {x*} spans slashes', () => {
    const c = compile('/containers/{name}/json');
    expect(c.regex.exec('/containers/abc/json')?.[1]).toBe('abc');
    expect(c.regex.test('/containers/a/b/json')).toBe(false);
    const i = compile('/images/{name*}/tag');
    expect(i.regex.exec('/images/10.99.0.1:5000/busybox/tag')?.[1]).toBe('10.99.0.1:5000/busybox');
  });
  test('image references match by tag, digest and ID prefix', () => {
    expect(normalizeImageRef('busybox')).toBe('busybox:latest');
    expect(normalizeImageRef('docker.io/library/busybox:1.36')).toBe('busybox:1.36');
    const img = { Id: 'sha256:abcdef123456', RepoTags: ['busybox:latest'], RepoDigests: ['busybox@sha256:99'] };
    expect(imageMatches(img, 'busybox')).toBe(true);
    expect(imageMatches(img, 'abcdef')).toBe(true);
    expect(imageMatches(img, 'sha256:abcdef123456')).toBe(true);
    expect(imageMatches(img, 'alpine')).toBe(false);
  });
});

describe('events filters', () => {
  test('keys ANDed, values ORed; node by name', async () => {
    const { eventMatches } = await import('../../../src/lib/api/system');
    const ev = { Type: 'container', Action: 'start', Actor: { ID: 'abc123', Attributes: { name: 'web', image: 'busybox' } }, node: { Name: 'node-1', Id: 'X|a', Addr: 'a', Ip: 'i' } };
    const f = (o: Record<string, string[]>) => new Map(Object.entries(o));
    expect(eventMatches(f({}), ev)).toBe(true);
    expect(eventMatches(f({ type: ['container'], event: ['stop', 'start'] }), ev)).toBe(true);
    expect(eventMatches(f({ type: ['image'] }), ev)).toBe(false);
    expect(eventMatches(f({ container: ['web'], node: ['node-1'] }), ev)).toBe(true);
    expect(eventMatches(f({ container: ['abc'] }), ev)).toBe(true);
    expect(eventMatches(f({ node: ['node-2'] }), ev)).toBe(false);
    expect(eventMatches(f({ image: ['busybox'] }), ev)).toBe(true);
  });
});
