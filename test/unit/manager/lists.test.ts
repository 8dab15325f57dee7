/** Aggregated lists from engine caches: names, filters, merging (spec §3.2). */
import { expect, test } from 'bun:test';
import { listContainers } from '../../../src/lib/api/containers';
import { listImages } from '../../../src/lib/api/images';
import { listNetworks, listVolumes } from '../../../src/lib/api/networks';
import { ApiError } from '../../../src/lib/errors';
import type { Engine } from '../../../src/lib/engine/engine';
import type { Cluster } from '../../../src/lib/manager/cluster';

function engine(name: string, ip: string, healthy = true, over: Partial<Record<keyof Engine, unknown>> = {}): Engine {
  return { name, ip, id: `${name.toUpperCase()}|${ip}:2375`, daemonId: name.toUpperCase(), isHealthy: () => healthy, containers: new Map(), images: [], networks: new Map(), volumes: new Map(), ...over } as unknown as Engine;
}

function container(id: string, name: string, state: string, extra: Record<string, unknown> = {}) {
  return [id, { id, summary: { Id: id, Names: [`/${name}`], Image: 'busybox', State: state, Status: 'x', Created: id.length * 10 + Number(id.startsWith('b')), Labels: {}, Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }], ...extra }, inspect: { State: { Status: state, ExitCode: state === 'exited' ? 2 : 0 } } }] as const;
}

const n1 = engine('node-1', '10.0.0.1', true, { containers: new Map([container('a1', 'web', 'running'), container('a22', 'old', 'exited'), container('a333', 'mgr', 'running', { Image: 'swarm:latest' })]) });
const n2 = engine('node-2', '10.0.0.2', false, { containers: new Map([container('b1', 'db', 'running', { Labels: { tier: 'data' } })]) });
const cluster = { registered: () => [n1, n2] } as unknown as Cluster;
const q = (o: Record<string, string>) => new URLSearchParams(o);

test('ps: running containers on healthy nodes, /<node>/<name>, node IP for wildcard ports (deduplicated)', () => {
  const list = listContainers(cluster, q({}));
  expect(list.map((c) => c.Names[0])).toEqual(['/node-1/web']);
  expect(list[0].Ports).toEqual([{ IP: '10.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }]);
});

test('ps -a: every state, swarm containers hidden, unhealthy node shows Host Down, newest first', () => {
  const list = listContainers(cluster, q({ all: '1' }));
  expect(list.map((c) => `${c.Names[0]} ${c.Status}`)).toEqual(['/node-1/old Exited (2) Less than a second ago', '/node-2/db Host Down', '/node-1/web Up Less than a second']);
});

test('ps filters: node, label, status, exited, name with node prefix; unknown filter → 400', () => {
  const names = (f: object) => listContainers(cluster, q({ all: '1', filters: JSON.stringify(f) })).map((c) => c.Names[0]);
  expect(names({ node: ['node-2'] })).toEqual(['/node-2/db']);
  expect(names({ label: ['tier=data'] })).toEqual(['/node-2/db']);
  expect(names({ status: ['exited'] })).toEqual(['/node-1/old']);
  expect(names({ exited: ['2'] })).toEqual(['/node-1/old']);
  expect(names({ name: ['node-1/w'] })).toEqual(['/node-1/web']);
  expect(() => names({ bogus: ['1'] })).toThrow(ApiError);
  expect(() => names({ status: ['sleeping'] })).toThrow("invalid filter 'status=sleeping'");
  expect(listContainers(cluster, q({ all: '1', limit: '1' }))).toHaveLength(1);
});

test('images: merged by ID across nodes, tags deduplicated; reference filter keeps matching tags', () => {
  const a = engine('node-1', '1', true, { images: [{ Id: 'sha256:1', RepoTags: ['busybox:latest'], Created: 2 }, { Id: 'sha256:2', RepoTags: ['app:1'], Created: 5 }] } as Partial<Engine>);
  const b = engine('node-2', '2', true, { images: [{ Id: 'sha256:1', RepoTags: ['busybox:latest', 'reg:5000/busybox:latest'], Created: 2 }] } as Partial<Engine>);
  const all = listImages([a, b], q({}));
  expect(all.map((i) => [i.Id, i.RepoTags])).toEqual([
    ['sha256:2', ['app:1']],
    ['sha256:1', ['busybox:latest', 'reg:5000/busybox:latest']],
  ]);
  expect(listImages([a, b], q({ filters: JSON.stringify({ reference: ['busy*'] }) })).map((i) => i.RepoTags)).toEqual([['busybox:latest']]);
  expect(listImages([a, b], q({ filters: JSON.stringify({ node: ['node-2'] }) }))).toHaveLength(1);
  expect(() => listImages([a, b], q({ filters: JSON.stringify({ dangling: ['maybe'] }) }))).toThrow(ApiError);
});

test('networks: local ones as <node>/<name>, global ones once; type filter validated', () => {
  const a = engine('node-1', '1', true, { networks: new Map([['n1', { Id: 'n1', Name: 'bridge', Scope: 'local', Driver: 'bridge' }], ['g', { Id: 'g', Name: 'over', Scope: 'global', Driver: 'overlay' }]]) } as Partial<Engine>);
  const b = engine('node-2', '2', true, { networks: new Map([['n2', { Id: 'n2', Name: 'bridge', Scope: 'local', Driver: 'bridge' }], ['g', { Id: 'g', Name: 'over', Scope: 'global', Driver: 'overlay' }]]) } as Partial<Engine>);
  expect(listNetworks([a, b], q({})).map((n) => n.Name)).toEqual(['node-1/bridge', 'over', 'node-2/bridge']);
  expect(listNetworks([a, b], q({ filters: JSON.stringify({ driver: ['overlay'] }) })).map((n) => n.Name)).toEqual(['over']);
  expect(listNetworks([a, b], q({ filters: JSON.stringify({ type: ['builtin'] }) })).map((n) => n.Name)).toEqual(['node-1/bridge', 'node-2/bridge']);
  expect(() => listNetworks([a, b], q({ filters: JSON.stringify({ type: ['weird'] }) }))).toThrow(ApiError);
});

test('volumes: local ones as <node>/<name>; name and node filters', () => {
  const a = engine('node-1', '1', true, { volumes: new Map([['v', { Name: 'v', Driver: 'local' }]]) } as Partial<Engine>);
  const b = engine('node-2', '2', true, { volumes: new Map([['v', { Name: 'v', Driver: 'local' }]]) } as Partial<Engine>);
  expect(listVolumes([a, b], q({})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(['node-1/v', 'node-2/v']);
  expect(listVolumes([a, b], q({ filters: JSON.stringify({ node: ['node-2'] }) })).Volumes).toHaveLength(1);
});
