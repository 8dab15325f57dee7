/**
 * References, as tables in the spirit of v1's cluster/image_test.go: each row a reference and what it
 * must and must not name. Container rows run through both callers of the one lookup rule: the
 * scheduler's (a node snapshot) and the Cluster's (engine indexes).
 */
import { describe, expect, test } from 'bun:test';
import { ContainerIndex } from '../../../src/lib/engine/container-index';
import type { CachedContainer, Engine } from '../../../src/lib/engine/engine';
import { Cluster } from '../../../src/lib/manager/cluster';
import { findContainer } from '../../../src/lib/scheduler/lookup';
import {
  bestImage,
  engineReads,
  imageMatch,
  imageMatches,
  isNodeRef,
  normalizeImageRef,
  parseContainerName,
  parseImageRef,
  parseRepositoryTag,
  truncateId,
  type ImageNames,
} from '../../../src/lib/scheduler/reference';
import type { ContainerSnapshot, ImageSnapshot, NodeSnapshot } from '../../../src/lib/scheduler/types';
import { container, node } from './fixtures';

const DIGEST = 'sha256:a973f1415c489a934bf56dd653079d36b4ec717760215645726439de9705911d';
const OTHER_DIGEST = 'sha256:111111415c489a934bf56dd653079d36b4ec717760215645726439de9705911d';

describe('parseImageRef', () => {
  const rows: [string, { repository: string; registry: string; tag: string; digest: string }][] = [
    ['busybox', { repository: 'busybox', registry: '', tag: '', digest: '' }],
    ['busybox:1.36', { repository: 'busybox', registry: '', tag: '1.36', digest: '' }],
    ['myorg/app:1.0', { repository: 'myorg/app', registry: '', tag: '1.0', digest: '' }],
    ['localhost.localdomain:5000/samalba/hipache:latest', { repository: 'localhost.localdomain:5000/samalba/hipache', registry: 'localhost.localdomain:5000', tag: 'latest', digest: '' }],
    [`localhost:5000/foo/bar@${DIGEST}`, { repository: 'localhost:5000/foo/bar', registry: 'localhost:5000', tag: '', digest: DIGEST }],
    ['localhost:5000/foo/bar', { repository: 'localhost:5000/foo/bar', registry: 'localhost:5000', tag: '', digest: '' }],
    ['localhost:5000/foo/bar:latest', { repository: 'localhost:5000/foo/bar', registry: 'localhost:5000', tag: 'latest', digest: '' }],
    ['localhost/foo', { repository: 'localhost/foo', registry: 'localhost', tag: '', digest: '' }],
    ['10.99.0.1:5000/busybox', { repository: '10.99.0.1:5000/busybox', registry: '10.99.0.1:5000', tag: '', digest: '' }],
    [`reg.example.com/a:1@${DIGEST}`, { repository: 'reg.example.com/a', registry: 'reg.example.com', tag: '1', digest: DIGEST }],
    ['docker.io/library/redis:7', { repository: 'docker.io/library/redis', registry: 'docker.io', tag: '7', digest: '' }],
  ];
  test.each(rows)('%p', (ref, want) => expect(parseImageRef(ref)).toEqual(want));

  test('parseRepositoryTag (v1): the tag or the digest second', () => {
    expect(parseRepositoryTag('localhost.localdomain:5000/samalba/hipache:latest')).toEqual(['localhost.localdomain:5000/samalba/hipache', 'latest']);
    expect(parseRepositoryTag(`localhost:5000/foo/bar@${DIGEST}`)).toEqual(['localhost:5000/foo/bar', DIGEST]);
    expect(parseRepositoryTag('localhost:5000/foo/bar')).toEqual(['localhost:5000/foo/bar', '']);
  });

  const normalized: [string, string][] = [
    ['busybox', 'busybox:latest'],
    ['busybox:1.36', 'busybox:1.36'],
    ['docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['index.docker.io/library/busybox', 'busybox:latest'],
    ['library/busybox', 'busybox:latest'],
    ['docker.io/myorg/app', 'myorg/app:latest'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    [`busybox@${DIGEST}`, `busybox@${DIGEST}`],
  ];
  test.each(normalized)('normalizeImageRef(%p) = %p', (ref, want) => expect(normalizeImageRef(ref)).toBe(want));
});

describe('image matching', () => {
  // v1's TestMatch image, and its TestMatchPrivateRepo image.
  const v1: ImageSnapshot = { id: '378954456789', repoTags: ['name:latest'], repoDigests: [`name@${DIGEST}`] };
  const privateRepo: ImageSnapshot = { id: '378954456789', repoTags: ['private.registry.com:5000/name:latest'], repoDigests: [] };
  const busybox = { Id: `sha256:abcdef123456${'0'.repeat(52)}`, RepoTags: ['busybox:latest', 'busybox:1.36'], RepoDigests: [`busybox@${DIGEST}`] };
  const redis7: ImageSnapshot = { id: `sha256:${'7'.repeat(64)}`, repoTags: ['redis:7'], repoDigests: [] };
  const local: ImageSnapshot = { id: `sha256:${'c'.repeat(64)}`, repoTags: ['localhost:5000/app:1'], repoDigests: [] };
  const untagged = { Id: `sha256:${'d'.repeat(64)}`, RepoTags: null, RepoDigests: null };

  const rows: [string, ImageNames, string[], string[]][] = [
    ['v1 TestMatch', v1, ['378954456789', '3789', '378', 'name:latest', 'name', `name@${DIGEST}`, 'docker.io/library/name'], ['37', 'nam', 'na', `name@${OTHER_DIGEST}`, 'name:1', '']],
    ['v1 TestMatchPrivateRepo', privateRepo, ['private.registry.com:5000/name:latest', 'private.registry.com:5000/name', '3789'], ['private.registry.com:5000/nam', 'private.registry.com:5000/na', 'name', 'name:latest']],
    [
      'sha256 ID, two tags, a digest',
      busybox,
      ['busybox', 'busybox:latest', 'busybox:1.36', 'docker.io/library/busybox', 'docker.io/library/busybox:1.36', 'library/busybox', 'abc', 'abcdef', 'abcdef123456', 'sha256:abcdef', busybox.Id, busybox.Id.slice(7), `busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
      ['ab', 'sha', 'sha256:', 'sha256:abd', 'busybox:1.37', 'busybo', 'alpine', `busybox@${OTHER_DIGEST}`, 'other/busybox', 'busybox:latest@' + OTHER_DIGEST],
    ],
    ['untagged reference, another tag (v1: any tag of the repository)', redis7, ['redis', 'redis:7', 'docker.io/library/redis'], ['redis:latest', 'redis:6', 'redi']],
    ['registry with port', local, ['localhost:5000/app', 'localhost:5000/app:1', 'ccc'], ['app', 'app:1', 'localhost/app:1', 'localhost:5001/app:1', 'localhost:5000/app:latest']],
    ['no tags or digests (null lists, as engines send)', untagged, ['ddd', untagged.Id], ['<none>', '<none>:<none>', 'busybox']],
  ];
  for (const [what, image, must, mustNot] of rows) {
    test(`${what}: names it`, () => {
      for (const ref of must) expect([ref, imageMatches(image, ref)]).toEqual([ref, true]);
    });
    test(`${what}: does not`, () => {
      for (const ref of mustNot) expect([ref, imageMatches(image, ref)]).toEqual([ref, false]);
    });
  }

  test('how: by ID, as the engine reads the reference, or only by repository', () => {
    expect(imageMatch(busybox, 'abcdef')).toBe('id');
    expect(imageMatch(busybox, 'busybox')).toBe('reference');
    expect(imageMatch(busybox, `busybox@${DIGEST}`)).toBe('reference');
    expect(imageMatch(redis7, 'redis')).toBe('repository');
    expect(imageMatch(redis7, 'redis:6')).toBe('repository');
    expect(imageMatch(redis7, 'alpine')).toBeUndefined();
    // The engine itself reads `redis` as `redis:latest`, which this image is not.
    expect(engineReads(redis7, 'redis')).toBe(false);
    expect(engineReads(redis7, 'redis:7')).toBe(true);
    expect(engineReads(busybox, 'busybox')).toBe(true);
  });

  test('a tagged reference names another tag only with anyTag (v1 Match(ref, false): before/since)', () => {
    expect(imageMatches(redis7, 'redis:6', true)).toBe(true);
    expect(imageMatches(redis7, 'redis:6')).toBe(false);
    expect(imageMatches(redis7, 'alpine:6', true)).toBe(false);
  });

  test('bestImage prefers what the engine reads over another tag, then the first', () => {
    const latest: ImageSnapshot = { id: 'e'.repeat(64), repoTags: ['redis:latest'], repoDigests: [] };
    expect(bestImage([redis7, latest], 'redis')).toBe(latest);
    expect(bestImage([redis7, latest], 'redis:7')).toBe(redis7);
    expect(bestImage([redis7], 'redis')).toBe(redis7);
    expect(bestImage([redis7, latest], 'redis:6')).toBeUndefined();
    expect(bestImage([redis7, latest], 'redis:6', true)).toBe(redis7);
  });

  test('truncateId', () => {
    expect(truncateId(`sha256:${'ab'.repeat(32)}`)).toBe('abababababab');
    expect(truncateId('abc')).toBe('abc');
  });
});

// ---- containers -------------------------------------------------------------------------------

const SID = 'com.docker.swarm.id';
const hex = (head: string) => head + '0'.repeat(64 - head.length);

interface Row {
  id: string;
  name: string;
  sid?: string;
  created?: number;
}

/** One node's containers. The comments say which rule each one is there for. */
const ONE_NODE: Row[] = [
  { id: hex('ab12'), name: 'web', sid: hex('f00d1') },
  { id: hex('ab34'), name: 'db', sid: hex('cd78') },
  { id: hex('cd56'), name: 'cache' },
  // Named like db's short ID: the ID wins (v1 looks at IDs first).
  { id: hex('9901'), name: hex('ab34').slice(0, 12) },
  // Named like a prefix of web's ID: names come before prefixes.
  { id: hex('9902'), name: 'ab12' },
  { id: hex('9903'), name: 'twin-a', sid: hex('cafe1') },
  { id: hex('9904'), name: 'twin-b', sid: hex('cafe2') },
];

const byName = (name: string) => ONE_NODE.find((r) => r.name === name)!.id;

/** [ref, the name of the container it must name, or undefined when it must name none]. */
const ONE_NODE_CASES: [string, string | undefined][] = [
  [hex('ab12'), 'web'],
  [hex('ab12').slice(0, 12), 'web'],
  ['ab1', 'web'],
  ['ab', undefined], // web and db
  ['web', 'web'],
  ['/web', 'web'],
  ['node-1/web', 'web'],
  ['NODE-1/web', 'web'], // the daemon ID
  ['NODE-1|node-1:2375/web', 'web'], // the cluster's node ID
  ['/node-1/web', 'web'],
  ['node-2/web', undefined],
  ['node-1/nope', undefined],
  [hex('f00d1'), 'web'], // swarm ID
  [hex('f00d1').slice(0, 12), 'web'], // short swarm ID
  ['f00d', 'web'], // swarm ID prefix
  [hex('ab34').slice(0, 12), 'db'], // a short ID before a name
  ['ab12', 'ab12'], // a name before an ID prefix
  ['cd', 'cache'], // an ID prefix before a swarm ID prefix (db's)
  ['cafe', undefined], // two swarm IDs
  ['cafe1', 'twin-a'],
  ['99', undefined],
  ['9903', 'twin-a'],
  ['nope', undefined],
  ['', undefined],
  ['/', undefined],
];

function snapshotOf(rows: Row[], name = 'node-1'): NodeSnapshot {
  return node(name, {
    id: `${name.toUpperCase()}|${name}:2375`,
    containers: rows.map((r): ContainerSnapshot => container(r.id, { names: [r.name], labels: r.sid ? { [SID]: r.sid } : {} })),
  });
}

function entry(r: Row): CachedContainer {
  return { id: r.id, summary: { Id: r.id, Names: [`/${r.name}`], Labels: r.sid ? { [SID]: r.sid } : {}, Created: r.created ?? 100, State: 'running' } };
}

function fakeEngine(name: string, rows: Row[], healthy = true): Engine {
  const containers = new ContainerIndex();
  for (const r of rows) containers.set(r.id, entry(r));
  return { name, id: `${name.toUpperCase()}|${name}:2375`, daemonId: name.toUpperCase(), addr: `${name}:2375`, state: healthy ? 'healthy' : 'unhealthy', isHealthy: () => healthy, containers } as unknown as Engine;
}

function clusterOf(engines: Engine[]): Cluster {
  const c = new Cluster({ engine: { refreshMinMs: 1e6, refreshMaxMs: 1e6, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: [], overcommit: 0, createRetry: 0 });
  for (const e of engines) c.engines.set(e.addr, e);
  return c;
}

describe('container lookup: one rule for the scheduler (snapshot) and the cluster (indexes)', () => {
  const snapshot = snapshotOf(ONE_NODE);
  const cluster = clusterOf([fakeEngine('node-1', ONE_NODE)]);
  test.each(ONE_NODE_CASES)('%p names %p', (ref, want) => {
    const id = want === undefined ? undefined : byName(want);
    expect(findContainer(snapshot, ref)?.id).toBe(id);
    expect(cluster.findContainer(ref)?.container.id).toBe(id);
  });
});

describe('container lookup across nodes (cluster)', () => {
  const sid = hex('5151');
  const old = hex('7001');
  const stale = hex('7002');
  const moved = hex('7003');
  const cluster = clusterOf([
    fakeEngine('node-1', [{ id: old, name: 'svc', sid, created: 100 }, { id: hex('8001'), name: 'shared' }]),
    fakeEngine('node-2', [{ id: hex('8002'), name: 'shared' }, { id: moved, name: 'moved', sid: hex('6161'), created: 300 }]),
    fakeEngine('node-3', [{ id: stale, name: 'svc-stale', sid, created: 200 }, { id: hex('8003'), name: 'moved-old', sid: hex('6161'), created: 100 }], false),
  ]);
  const cases: [string, string | undefined][] = [
    // A swarm ID on a healthy node and on an unhealthy one: the healthy copy, though older.
    [sid, old],
    [sid.slice(0, 12), old],
    ['5151', old],
    // Two copies on healthy and unhealthy nodes: the healthy one, and the newest.
    [hex('6161'), moved],
    ['shared', undefined],
    ['node-2/shared', hex('8002')],
    ['NODE-1/shared', hex('8001')],
    ['node-3/shared', undefined],
    ['80', undefined],
    ['8003', hex('8003')],
  ];
  test.each(cases)('%p', (ref, want) => expect(cluster.findContainer(ref)?.container.id).toBe(want));

  test('per node, the scheduler finds only what that node holds', () => {
    const n2 = snapshotOf([{ id: hex('8002'), name: 'shared' }], 'node-2');
    expect(findContainer(n2, 'shared')?.id).toBe(hex('8002'));
    expect(findContainer(n2, 'node-2/shared')?.id).toBe(hex('8002'));
    expect(findContainer(n2, 'node-1/shared')).toBeUndefined();
  });
});

describe('container names and nodes', () => {
  const rows: [string, { node: string; name: string }][] = [
    ['web', { node: '', name: 'web' }],
    ['/web', { node: '', name: 'web' }],
    ['node-1/web', { node: 'node-1', name: 'web' }],
    ['/node-1/web', { node: 'node-1', name: 'web' }],
    ['', { node: '', name: '' }],
  ];
  test.each(rows)('parseContainerName(%p)', (ref, want) => expect(parseContainerName(ref)).toEqual(want));

  test('isNodeRef: name, cluster ID, daemon ID', () => {
    const n = { id: 'ABCD|10.0.0.1:2375', name: 'node-1' };
    for (const ref of ['node-1', 'ABCD|10.0.0.1:2375', 'ABCD']) expect(isNodeRef(n, ref)).toBe(true);
    for (const ref of ['', 'node-2', 'ABC', '10.0.0.1:2375']) expect(isNodeRef(n, ref)).toBe(false);
    expect(isNodeRef({ id: '', name: '' }, '')).toBe(false);
  });
});

describe('engines holding an image (the API routes tag, rmi, inspect, push to them)', () => {
  const withImages = (name: string, tags: string[]) => ({ ...fakeEngine(name, []), images: [{ Id: `sha256:${name.length}${'0'.repeat(63)}`, RepoTags: tags, RepoDigests: [] }] }) as unknown as Engine;
  const cluster = clusterOf([withImages('node-1', ['redis:7']), withImages('node-2', ['redis:latest']), withImages('node-33', ['alpine:3'])]);
  const names = (ref: string) => cluster.enginesWithImage(ref).map((e) => e.name);
  test('an untagged reference: the engine holding :latest first, then (v1) any other tag', () => {
    expect(names('redis')).toEqual(['node-2', 'node-1']);
    expect(names('docker.io/library/redis')).toEqual(['node-2', 'node-1']);
  });
  test('a tag or an ID prefix: only its holders', () => {
    expect(names('redis:7')).toEqual(['node-1']);
    expect(names('redis:6')).toEqual([]);
    expect(names('700')).toEqual(['node-33']);
    expect(names('60')).toEqual([]);
  });
});
