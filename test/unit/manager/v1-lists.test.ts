/** `docker ps` and `docker images` filters as v1 and dockerd answer them, from engine caches (spec §3.2). */
import { describe, expect, test } from 'bun:test';
import { listContainers } from '../../../src/lib/api/containers';
import { rfc3339Nanos } from '../../../src/lib/api/format';
import { listImages } from '../../../src/lib/api/images';
import { listNetworks, listVolumes } from '../../../src/lib/api/networks';
import { pathMatch } from '../../../src/lib/api/path-match';
import { ApiError } from '../../../src/lib/errors';
import { labelMatches, labelsMatch } from '../../../src/lib/api/respond';
import { eventMatches } from '../../../src/lib/api/system';
import type { ContainerSummary, ImageSummary } from '../../../src/lib/engine/docker-types';
import type { CachedContainer, Engine } from '../../../src/lib/engine/engine';
import { Cluster } from '../../../src/lib/manager/cluster';

function engine(name: string, healthy = true, over: Partial<Record<keyof Engine, unknown>> = {}): Engine {
  return {
    name,
    ip: `10.0.0.${name.slice(-1)}`,
    id: `${name.toUpperCase()}|10.0.0.${name.slice(-1)}:2375`,
    daemonId: name.toUpperCase(),
    isHealthy: () => healthy,
    containers: new Map(),
    images: [],
    networks: new Map(),
    volumes: new Map(),
    ...over,
  } as unknown as Engine;
}

/** A cached container; `created` is inspect's RFC 3339 time (nanoseconds). */
function ctr(id: string, name: string, state: string, created: string, extra: Partial<ContainerSummary> = {}): CachedContainer {
  return {
    id,
    summary: { Id: id, Names: [`/${name}`], Image: 'busybox', State: state, Status: 'x', Created: Math.floor(Date.parse(created) / 1000), Labels: {}, ...extra },
    inspect: { Name: `/${name}`, Created: created, State: { Status: state, ExitCode: state === 'exited' ? 3 : 0 } },
  };
}

const net = (id: string) => ({ NetworkID: id });
// Created within one second: only inspect's nanoseconds order them.
const n1 = engine('node-1', true, {
  containers: new Map(
    [
      ctr('a1', 'web', 'running', '2024-05-01T10:00:00.100000001Z', {
        NetworkSettings: { Networks: { appnet: net('n1appnet'), bridge: net('n1bridge') } },
        Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }],
      }),
      ctr('a2', 'done', 'exited', '2024-05-01T10:00:00.3Z', { NetworkSettings: { Networks: { bridge: net('n1bridge') } } }),
      ctr('a3', 'task', 'running', '2024-05-01T10:00:00.5Z', {
        Labels: { 'com.docker.swarm.task': '', tier: 'web' },
        Ports: [{ PrivatePort: 53, Type: 'udp' }],
      }),
      ctr('a4', 'fresh', 'created', '2024-05-01T10:00:00.7Z'),
    ].map((c) => [c.id, c]),
  ),
});
const n2 = engine('node-2', true, {
  containers: new Map(
    [
      ctr('b1', 'db', 'running', '2024-05-01T10:00:00.2Z', {
        Names: ['/db', '/web/dbalias'],
        NetworkSettings: { Networks: { appnet: net('n2appnet') } },
        Ports: [{ IP: '0.0.0.0', PrivatePort: 5432, PublicPort: 15432, Type: 'tcp' }],
      }),
      ctr('b2', 'gone', 'exited', '2024-05-01T10:00:00.6Z'),
    ].map((c) => [c.id, c]),
  ),
});
const n3 = engine('node-3', false, { containers: new Map([ctr('c1', 'lost', 'exited', '2024-05-01T10:00:00.4Z')].map((c) => [c.id, c])) });

const cluster = new Cluster({} as never);
Object.assign(cluster, { registered: () => [n1, n2, n3] });
const q = (o: Record<string, string>) => new URLSearchParams(o);
const ps = (f: object, extra: Record<string, string> = {}) => listContainers(cluster, q({ filters: JSON.stringify(f), ...extra })).map((c) => c.Names[0]);

describe('ps filters', () => {
  test('status=exited lists exactly the exited containers without -a, on every node', () => {
    expect(ps({ status: ['exited'] })).toEqual(['/node-2/gone', '/node-3/lost', '/node-1/done']);
    expect(ps({ status: { exited: true } })).toEqual(['/node-2/gone', '/node-3/lost', '/node-1/done']);
    expect(ps({ status: ['created'] })).toEqual(['/node-1/fresh']);
  });

  test('status=running with -a lists only the running ones; newest first by inspect nanoseconds', () => {
    expect(ps({ status: ['running'] }, { all: '1' })).toEqual(['/node-1/task', '/node-2/db', '/node-1/web']);
    expect(() => ps({ status: ['asleep'] })).toThrow("invalid filter 'status=asleep'");
  });

  test('network: a name across nodes, <node>/<name>, an ID prefix', () => {
    expect(ps({ network: ['appnet'] })).toEqual(['/node-2/db', '/node-1/web']);
    expect(ps({ network: ['node-2/appnet'] })).toEqual(['/node-2/db']);
    expect(ps({ network: ['node-1/bridge'] }, { all: '1' })).toEqual(['/node-1/done', '/node-1/web']);
    expect(ps({ network: ['n2app'] })).toEqual(['/node-2/db']);
    expect(ps({ network: ['node-3/appnet'] })).toEqual([]);
    expect(ps({ network: ['nosuch'] })).toEqual([]);
  });

  test('is-task: the com.docker.swarm.task label; other values → 400', () => {
    expect(ps({ 'is-task': ['true'] })).toEqual(['/node-1/task']);
    expect(ps({ 'is-task': ['false'] })).toEqual(['/node-2/db', '/node-1/web']);
    expect(() => ps({ 'is-task': ['maybe'] })).toThrow(ApiError);
  });

  test('name: with the leading / as dockerd, without it as v1, or as <node>/<name>; link aliases are not names', () => {
    expect(ps({ name: ['^/web$'] })).toEqual(['/node-1/web']);
    expect(ps({ name: ['^web$'] })).toEqual(['/node-1/web']);
    expect(ps({ name: ['^node-2/db$'] })).toEqual(['/node-2/db']);
    expect(ps({ name: ['dbalias'] })).toEqual([]);
    expect(ps({ name: ['^/we$'] })).toEqual([]);
    expect(ps({ name: ['(unclosed'] })).toEqual([]);
  });

  test('publish and expose: port, port/proto, ranges; `:` or bad ports → 400', () => {
    expect(ps({ publish: ['8080'] })).toEqual(['/node-1/web']);
    expect(ps({ publish: ['8080/udp'] })).toEqual([]);
    expect(ps({ publish: ['8000-16000/tcp'] })).toEqual(['/node-2/db', '/node-1/web']);
    expect(ps({ expose: ['80'] })).toEqual(['/node-1/web']);
    expect(ps({ expose: ['53/udp'] })).toEqual(['/node-1/task']);
    expect(ps({ expose: ['53'] })).toEqual([]);
    expect(() => ps({ publish: ['0.0.0.0:80'] })).toThrow("filter for 'publish' should not contain ':': 0.0.0.0:80");
    expect(() => ps({ expose: ['http'] })).toThrow('error while looking up for expose http');
    expect(() => ps({ publish: ['90-80'] })).toThrow('invalid range specified for port: 90-80');
  });

  test('since and before: by name, ID or <node>/<name>, within one second; unknown → 404', () => {
    expect(ps({ since: ['web'] }, { all: '1' })).toEqual(['/node-1/fresh', '/node-2/gone', '/node-1/task', '/node-3/lost', '/node-1/done', '/node-2/db']);
    expect(ps({ before: ['node-1/done'] }, { all: '1' })).toEqual(['/node-2/db', '/node-1/web']);
    expect(ps({ since: ['db'], before: ['a3'] }, { all: '1' })).toEqual(['/node-3/lost', '/node-1/done']);
    // Without -a only running containers, as dockerd.
    expect(ps({ since: ['web'] })).toEqual(['/node-1/task', '/node-2/db']);
    try {
      ps({ since: ['nosuch'] });
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).status).toBe(404);
      expect((e as ApiError).message).toBe('No such container: nosuch');
    }
  });

  test('label: key, key=value, ANDed; prototype keys match nothing', () => {
    expect(ps({ label: ['tier'] })).toEqual(['/node-1/task']);
    expect(ps({ label: ['tier=web', 'com.docker.swarm.task'] })).toEqual(['/node-1/task']);
    expect(ps({ label: ['tier=db'] })).toEqual([]);
    for (const k of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(ps({ label: [k] }, { all: '1' })).toEqual([]);
  });
});

describe('label filters everywhere use own keys', () => {
  test('labelMatches / labelsMatch', () => {
    expect(labelMatches({ a: '1' }, 'a')).toBe(true);
    expect(labelMatches({ a: '1' }, 'a=1')).toBe(true);
    expect(labelMatches({ a: '1' }, 'a=2')).toBe(false);
    expect(labelMatches({ a: '' }, 'a=')).toBe(true);
    expect(labelMatches({ 'k=v': 'x' }, 'k')).toBe(false);
    expect(labelMatches({}, 'constructor')).toBe(false);
    expect(labelMatches(null, 'a')).toBe(false);
    expect(labelsMatch({ a: '1', b: '2' }, ['a', 'b=2'])).toBe(true);
    expect(labelsMatch({ a: '1' }, ['a', 'b'])).toBe(false);
  });

  test('images, networks, volumes, events: label=constructor matches nothing', () => {
    const e = engine('node-1', true, {
      images: [{ Id: 'sha256:1', RepoTags: ['x:1'], Labels: {} }],
      networks: new Map([['n', { Id: 'n', Name: 'net', Scope: 'local', Driver: 'bridge', Labels: {} }]]),
      volumes: new Map([['v', { Name: 'v', Driver: 'local', Labels: {} }]]),
    } as Partial<Engine>);
    const f = (l: string) => q({ filters: JSON.stringify({ label: [l] }) });
    expect(listImages([e], f('constructor'))).toEqual([]);
    expect(listNetworks([e], f('constructor'))).toEqual([]);
    expect(listVolumes([e], f('toString')).Volumes).toEqual([]);
    const ev = { Type: 'container', Action: 'start', Actor: { ID: 'x', Attributes: { name: 'web' } } };
    expect(eventMatches(new Map([['label', ['constructor']]]), ev)).toBe(false);
    expect(eventMatches(new Map([['label', ['name=web']]]), ev)).toBe(true);
  });
});

describe('images', () => {
  const img = (Id: string, Created: number, RepoTags: string[], extra: Partial<ImageSummary> = {}): ImageSummary => ({ Id, Created, RepoTags, RepoDigests: [], ...extra });
  const a = engine('node-1', true, {
    images: [
      img('sha256:bb', 100, ['busybox:latest'], { RepoDigests: ['busybox@sha256:d1'] }),
      img('sha256:app', 300, ['app:1', 'reg:5000/app:1'], { Labels: { tier: 'web' } }),
      img('sha256:old', 50, [], { RepoDigests: [] }),
    ],
  } as Partial<Engine>);
  const b = engine('node-2', true, {
    images: [img('sha256:bb', 100, ['busybox:latest', 'mine:2']), img('sha256:new', 400, ['new:1']), img('sha256:app', 300, [])],
  } as Partial<Engine>);
  const list = (f: object = {}, extra: Record<string, string> = {}) => listImages([a, b], q({ filters: JSON.stringify(f), ...extra })).map((i) => `${i.Id.slice(7)} ${i.RepoTags.join(',')}`);

  test('one image held by several nodes is one entry with every tag; unnamed images only with -a', () => {
    expect(list()).toEqual(['new new:1', 'app app:1,reg:5000/app:1', 'bb busybox:latest,mine:2']);
    expect(list({}, { all: '1' })).toEqual(['new new:1', 'app app:1,reg:5000/app:1', 'bb busybox:latest,mine:2', 'old ']);
  });

  test('before and since: strictly older/newer than the named image; unknown → 400 as v1', () => {
    expect(list({ before: ['app:1'] })).toEqual(['bb busybox:latest,mine:2']);
    expect(list({ since: ['busybox'] })).toEqual(['new new:1', 'app app:1,reg:5000/app:1']);
    expect(list({ since: ['sha256:bb'], before: ['new:1'] })).toEqual(['app app:1,reg:5000/app:1']);
    // v1: a tag the cluster lacks falls back to another tag of that repository.
    expect(list({ before: ['app:9'] })).toEqual(['bb busybox:latest,mine:2']);
    expect(() => list({ before: ['nosuch'] })).toThrow("Invalid filter: 'type'='before': no such image found: 'nosuch'");
  });

  test('dangling: true lists untagged copies, false tagged ones; other values → 400', () => {
    expect(list({ dangling: ['true'] })).toEqual(['app ', 'old ']);
    expect(list({ dangling: ['false'] })).toEqual(['new new:1', 'app app:1,reg:5000/app:1', 'bb busybox:latest,mine:2']);
    expect(() => list({ dangling: ['1'] })).toThrow("invalid filter 'dangling=1'");
  });

  test('label and reference', () => {
    expect(list({ label: ['tier=web'] })).toEqual(['app app:1,reg:5000/app:1']);
    expect(list({ label: ['tier=db'] })).toEqual([]);
    expect(list({ reference: ['busybox'] })).toEqual(['bb busybox:latest']);
    expect(list({ reference: ['*:2'] })).toEqual(['bb mine:2']);
    expect(list({ reference: ['reg:5000/*'] })).toEqual(['app reg:5000/app:1']);
    expect(list({ reference: ['[ab]pp'] })).toEqual(['app app:1']);
    expect(list({ reference: ['docker.io/library/busybox:latest'] })).toEqual(['bb busybox:latest']);
    expect(list({ reference: ['a*'] })).toEqual(['app app:1']);
  });
});

test('pathMatch is Go path.Match', () => {
  const cases: [string, string, boolean][] = [
    ['abc', 'abc', true],
    ['*', 'abc', true],
    ['*c', 'abc', true],
    ['a*', 'a', true],
    ['a*', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*/b', 'a/c/b', false],
    ['a*b*c*d*e*/f', 'axbxcxdxe/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b*c*d*e*/f', 'axbxcxdxe/xxx/f', false],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/fff', false],
    ['a*b?c*x', 'abxbbxdbxebxczzx', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[c]', 'abc', true],
    ['ab[b-d]', 'abc', true],
    ['ab[e-g]', 'abc', false],
    ['ab[^c]', 'abc', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'ab', false],
    ['a?b', 'a☺b', true],
    ['a[^a]b', 'a☺b', true],
    ['a???b', 'a☺b', false],
    ['[a-ζ]*', 'α', true],
    ['*[a-ζ]', 'A', false],
    ['a?b', 'a/b', false],
    ['a*b', 'a/b', false],
    ['[\\]a]', ']', true],
    ['[\\-]', '-', true],
    ['[x\\-]', '-', true],
    ['[x\\-]', 'z', false],
    ['[]a]', ']', false],
    ['[-]', '-', false],
    ['[x-]', 'x', false],
    ['\\', 'a', false],
    ['[a-b-c]', 'a', false],
    ['[', 'a', false],
    ['[^bc', 'a', false],
    ['a[', 'a', false],
    ['*x', 'xxx', true],
  ];
  for (const [p, n, want] of cases) expect([p, n, pathMatch(p, n)]).toEqual([p, n, want]);
  // No backtracking across stars: many stars over a long name stay fast.
  const t = performance.now();
  expect(pathMatch(`${'*a'.repeat(30)}*b`, 'a'.repeat(20_000))).toBe(false);
  expect(performance.now() - t).toBeLessThan(1000);
});

test('rfc3339Nanos keeps the nanoseconds', () => {
  expect(rfc3339Nanos('2024-05-01T10:00:00.000000001Z')! - rfc3339Nanos('2024-05-01T10:00:00Z')!).toBe(1n);
  expect(rfc3339Nanos('2024-05-01T10:00:00.5Z')! > rfc3339Nanos('2024-05-01T10:00:00.123456789Z')!).toBe(true);
  expect(rfc3339Nanos('2024-05-01T12:00:00.1+02:00')).toBe(rfc3339Nanos('2024-05-01T10:00:00.1Z'));
  expect(rfc3339Nanos('yesterday')).toBeUndefined();
});
