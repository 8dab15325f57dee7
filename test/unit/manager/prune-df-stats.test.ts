/** Prune reports, disk usage and stats samples merged across nodes (pure parts of prune.ts, disk-usage.ts, stats.ts). */
import { describe, expect, test } from 'bun:test';
import { diskUsageTypes, mergeDiskUsage, type DiskUsageType } from '../../../src/lib/api/disk-usage';
import { encodeFilters, humanSize, mergePruneReports, volumePruneFilters } from '../../../src/lib/api/prune';
import { ApiError } from '../../../src/lib/errors';
import { qualifyStatsName } from '../../../src/lib/api/stats';

const ALL = new Set<DiskUsageType>(['container', 'image', 'volume', 'build-cache']);

describe('prune reports', () => {
  test('lists are node-qualified in node order, space summed; nothing deleted is null', () => {
    const merged = mergePruneReports('ContainersDeleted', true, [
      { node: 'node-1', report: { ContainersDeleted: ['aaa', 'bbb'], SpaceReclaimed: 10 } },
      { node: 'node-2', report: { ContainersDeleted: null, SpaceReclaimed: 0 } },
      { node: 'node-3', report: { ContainersDeleted: ['ccc'], SpaceReclaimed: 5 } },
    ]);
    expect(merged).toEqual({ ContainersDeleted: ['node-1/aaa', 'node-1/bbb', 'node-3/ccc'], SpaceReclaimed: 15 });
    expect(mergePruneReports('VolumesDeleted', true, [{ node: 'n', report: { VolumesDeleted: [], SpaceReclaimed: 0 } }])).toEqual({ VolumesDeleted: null, SpaceReclaimed: 0 });
  });

  test('image items keep their kind; networks carry no SpaceReclaimed', () => {
    const merged = mergePruneReports('ImagesDeleted', true, [
      { node: 'node-1', report: { ImagesDeleted: [{ Untagged: 'x:1' }, { Deleted: 'sha256:ab' }], SpaceReclaimed: 3 } },
      { node: 'node-2', report: { ImagesDeleted: [{ Deleted: 'sha256:ab' }], SpaceReclaimed: 3 } },
    ]);
    expect(merged.ImagesDeleted).toEqual([{ Untagged: 'node-1/x:1' }, { Deleted: 'node-1/sha256:ab' }, { Deleted: 'node-2/sha256:ab' }]);
    expect(merged.SpaceReclaimed).toBe(6);
    expect(mergePruneReports('NetworksDeleted', false, [{ node: 'node-1', report: { NetworksDeleted: ['n1'] } }])).toEqual({ NetworksDeleted: ['node-1/n1'] });
  });

  test('sizes print as the CLI prints them (go-units HumanSize)', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(104)).toBe('104B');
    expect(humanSize(1983)).toBe('1.983kB');
    expect(humanSize(1_200_000)).toBe('1.2MB');
    expect(humanSize(3_965_952)).toBe('3.966MB');
  });

  test('filters are encoded as the Go client does', () => {
    expect(JSON.parse(encodeFilters(new Map([['label', ['a=b', 'c']], ['until', ['10m']]])))).toEqual({ label: { 'a=b': true, c: true }, until: { '10m': true } });
  });
});

describe('volume prune across API 1.42 (anonymous volumes only)', () => {
  const f = (o: Record<string, string[]>) => new Map(Object.entries(o));
  const obj = (m: Map<string, string[]>) => Object.fromEntries(m);

  test('a client below 1.42 prunes every unused volume: newer engines get all=true, older ones nothing added', () => {
    expect(obj(volumePruneFilters(f({ label: ['k'] }), '1.41', '1.45'))).toEqual({ label: ['k'], all: ['true'] });
    expect(obj(volumePruneFilters(f({ label: ['k'] }), '1.41', '1.41'))).toEqual({ label: ['k'] });
  });

  test('a client at 1.42+ asking for anonymous volumes: an engine below 1.42 gets the anonymous label, so named volumes stay', () => {
    expect(obj(volumePruneFilters(f({}), '1.45', '1.41'))).toEqual({ label: ['com.docker.volume.anonymous'] });
    expect(obj(volumePruneFilters(f({ all: ['false'] }), '1.45', '1.41'))).toEqual({ label: ['com.docker.volume.anonymous'] });
    expect(obj(volumePruneFilters(f({}), '1.45', '1.45'))).toEqual({});
  });

  test('all=true from a 1.42+ client: older engines (which know no `all`) prune every unused volume anyway', () => {
    expect(obj(volumePruneFilters(f({ all: ['true'] }), '1.45', '1.41'))).toEqual({});
    expect(obj(volumePruneFilters(f({ all: ['1'] }), '1.44', '1.45'))).toEqual({ all: ['1'] });
  });
});

describe('disk usage', () => {
  const node1 = {
    LayersSize: 100,
    Images: [{ Id: 'sha256:a', RepoTags: ['busybox:latest', 'reg.example:5000/x:1'], Size: 50, VirtualSize: 50 }, { Id: 'sha256:b', RepoTags: ['<none>:<none>'], Size: 1 }],
    Containers: [{ Id: 'c1', Names: ['/web'], SizeRw: 3 }],
    Volumes: [
      { Name: 'data', Driver: 'local', UsageData: { Size: 7, RefCount: 1 } },
      { Name: 'shared', Driver: 'nfs' },
    ],
    BuildCache: [{ ID: 'r1', Parent: 'p0', Size: 4, Shared: false }],
    BuilderSize: 4,
  };
  const node2 = {
    LayersSize: 60,
    Images: [{ Id: 'sha256:a', RepoTags: ['busybox:latest'], Size: 50 }],
    Containers: [],
    Volumes: [],
    BuildCache: [{ ID: 'r2', Parents: ['p1', 'p2'], Size: 6, Shared: true }],
  };
  const answers = [
    { node: 'node-1', usage: node1 },
    { node: 'node-2', usage: node2 },
  ];

  test('each node listed apart, with its name: tags, containers, local volumes; layers summed', () => {
    const du = mergeDiskUsage(answers, ALL, '1.45');
    expect(du.LayersSize).toBe(160);
    expect(du.Images!.map((i) => i.RepoTags)).toEqual([['node-1/busybox:latest', 'reg.example:5000/x:1'], ['<none>:<none>'], ['node-2/busybox:latest']]);
    expect(du.Containers!.map((c) => c.Names)).toEqual([['/node-1/web']]);
    expect(du.Volumes!.map((v) => v.Name)).toEqual(['node-1/data', 'shared']);
    expect(du.BuildCache!.map((b) => b.ID)).toEqual(['r1', 'r2']);
  });

  test('1.45 shapes: Parents, no Parent, no VirtualSize, no BuilderSize', () => {
    const du = mergeDiskUsage(answers, ALL, '1.45');
    expect(du.BuildCache).toEqual([
      { ID: 'r1', Parents: ['p0'], Size: 4, Shared: false },
      { ID: 'r2', Parents: ['p1', 'p2'], Size: 6, Shared: true },
    ]);
    expect(du.Images!.some((i) => 'VirtualSize' in i)).toBe(false);
    expect('BuilderSize' in du).toBe(false);
  });

  test('1.41 shapes: Parent, no Parents, VirtualSize, BuilderSize', () => {
    const du = mergeDiskUsage(answers, ALL, '1.41');
    expect(du.BuildCache).toEqual([
      { ID: 'r1', Parent: 'p0', Size: 4, Shared: false },
      { ID: 'r2', Parent: 'p1', Size: 6, Shared: true },
    ]);
    expect(du.Images!.map((i) => i.VirtualSize)).toEqual([50, 1, 50]);
    expect(du.BuilderSize).toBe(10);
  });

  test('type= (1.42+) keeps the kinds asked for, as dockerd: the others null', () => {
    const types = diskUsageTypes(new URLSearchParams('type=volume&type=container'), '1.45');
    const du = mergeDiskUsage(answers, types, '1.45');
    expect(du.Images).toBeNull();
    expect(du.BuildCache).toBeNull();
    expect(du.LayersSize).toBe(0);
    expect(du.Volumes!.length).toBe(2);
    expect(diskUsageTypes(new URLSearchParams('type=volume'), '1.41').size).toBe(4);
    expect(() => diskUsageTypes(new URLSearchParams('type=bogus'), '1.45')).toThrow(ApiError);
  });

  test('node names that cannot start a repository path leave tags as they are', () => {
    const du = mergeDiskUsage([{ node: 'Node_A', usage: { Images: [{ Id: 'x', RepoTags: ['busybox:latest'] }] } }], ALL, '1.45');
    expect(du.Images![0]!.RepoTags).toEqual(['busybox:latest']);
  });
});

describe('stats samples', () => {
  test('only the top-level name is node-qualified, every other byte kept', () => {
    const line =
      '{"read":"2026-01-01T00:00:00Z","memory_stats":{"stats":{"hierarchical_memory_limit":9223372036854771712},"name":"inner"},"networks":{"name":{"rx_bytes":1}},"name":"/web","id":"abc"}';
    const out = qualifyStatsName(line, 'node-1');
    expect(out).toBe(line.replace('"name":"/web"', '"name":"/node-1/web"'));
    expect(out).toContain('9223372036854771712');
  });

  test('strings holding braces or escaped quotes do not confuse it; no name, or an empty one, is left alone', () => {
    const line = '{"read":"a{\\"b","name":"/x\\"y","id":"1"}';
    expect(JSON.parse(qualifyStatsName(line, 'n')).name).toBe('/n/x"y');
    expect(qualifyStatsName('{"id":"1"}', 'n')).toBe('{"id":"1"}');
    expect(qualifyStatsName('{"name":"","id":"1"}', 'n')).toBe('{"name":"","id":"1"}');
    expect(qualifyStatsName('not json', 'n')).toBe('not json');
  });
});
