import { afterEach, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRAIN_LABEL, DrainState, labelDrains } from '../../../src/lib/manager/drain';
import { parseClusterOpts } from '../../../src/lib/manager/plan';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer, type SchedulerOptions } from '../../../src/lib/manager/scheduling';
import { parseCreateRequest, placeContainer, type NodeSnapshot } from '../../../src/lib/scheduler';
import { describeChange, formatAvailabilityTable } from '../../../src/lib/node-client';
import { container, node } from '../scheduler/fixtures';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'swarm-drain-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('DrainState', () => {
  test('in memory: drain and activate by node name', () => {
    const s = new DrainState();
    expect(s.persistent).toBe(false);
    expect(s.isDrained('node-1')).toBe(false);
    const entry = s.set('node-1', 'drain', {}, new Date('2026-01-02T03:04:05.678Z'));
    expect(entry).toEqual({ availability: 'drain', since: '2026-01-02T03:04:05Z' });
    expect(s.isDrained('node-1')).toBe(true);
    expect(s.isDrained('node-2')).toBe(false);
    s.set('node-1', 'active');
    expect(s.isDrained('node-1')).toBe(false);
    expect(s.override('node-1')).toBeUndefined();
  });

  test('the engine label drains from the start; a run-time activate overrides it', () => {
    const labels = { [DRAIN_LABEL]: 'true', storagedriver: 'overlay2' };
    expect(labelDrains(labels)).toBe(true);
    expect(labelDrains({ [DRAIN_LABEL]: 'false' })).toBe(false);
    const s = new DrainState();
    expect(s.isDrained('node-1', labels)).toBe(true);
    s.set('node-1', 'active', labels);
    expect(s.isDrained('node-1', labels)).toBe(false);
    expect(s.override('node-1')?.availability).toBe('active');
  });

  test('with a state file every change is written and read back by the next manager', () => {
    const file = join(tmp(), 'drain.json');
    const a = new DrainState(file);
    a.load(); // missing file: empty
    a.set('node-2', 'drain');
    a.set('node-3', 'drain');
    a.set('node-3', 'active');
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(saved.version).toBe(1);
    expect(Object.keys(saved.nodes)).toEqual(['node-2']);
    const b = new DrainState(file);
    b.load();
    expect(b.isDrained('node-2')).toBe(true);
    expect(b.isDrained('node-3')).toBe(false);
  });

  test('a corrupt state file stops the start with a clear message; a failed write changes nothing', () => {
    const dir = tmp();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{not json');
    expect(() => new DrainState(bad).load()).toThrow(`cannot read drain state file ${bad}`);
    writeFileSync(bad, '[]');
    expect(() => new DrainState(bad).load()).toThrow('is not a swarm drain state file');
    const s = new DrainState(join(dir, 'no/such/dir/drain.json'));
    expect(() => s.set('node-1', 'drain')).toThrow('cannot write drain state file');
    expect(s.isDrained('node-1')).toBe(false);
  });
});

describe('cluster options', () => {
  test('swarm.spread.running-only and swarm.drain.state-file', () => {
    expect(parseClusterOpts([])).toMatchObject({ overcommit: 0.05, createRetry: 0, spreadRunningOnly: false });
    const o = parseClusterOpts(['swarm.spread.running-only=true', 'swarm.drain.state-file=/var/lib/swarm/drain.json', 'swarm.createretry=2']);
    expect(o).toMatchObject({ spreadRunningOnly: true, drainStateFile: '/var/lib/swarm/drain.json', createRetry: 2 });
    expect(() => parseClusterOpts(['swarm.spread.running-only=maybe'])).toThrow('expected true or false');
    expect(() => parseClusterOpts(['swarm.drain.state-file='])).toThrow('needs a file path');
    expect(() => parseClusterOpts(['swarm.bogus=1'])).toThrow('unsupported cluster option swarm.bogus');
  });

  /** The node a Placer with these options would choose among `nodes` (the scheduler it configures). */
  const chosen = (opts: SchedulerOptions, nodes: NodeSnapshot[], body: object): string => {
    const cluster = new Cluster({ engine: { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0 }, strategy: opts.strategy, filters: opts.filters, overcommit: opts.overcommit, createRetry: 0 });
    const r = placeContainer(nodes, parseCreateRequest(body), new Placer(cluster, opts).placeOptions());
    if (!r.ok) throw new Error(r.error.message);
    return r.node.name;
  };

  test('the placer passes running-only to spread: stopped containers stop weighing', () => {
    const busy = node('busy', { id: 'busy', containers: [container('a', { state: 'exited' }), container('b', { state: 'exited' })] });
    const idle = node('idle', { id: 'idle', containers: [container('c')] });
    const v1 = { strategy: 'spread', filters: ['health'], overcommit: 0.05 };
    const runningOnly = { ...v1, spreadRunningOnly: true };
    const body = { Image: 'busybox' };
    expect(chosen(v1, [busy, idle], body)).toBe('idle');
    expect(chosen(runningOnly, [busy, idle], body)).toBe('busy');
  });

  test('a drained node gets nothing and the error says so', () => {
    const opts = { strategy: 'spread', filters: ['health'], overcommit: 0.05 };
    const a = node('node-1', { id: 'n1', drained: true });
    const b = node('node-2', { id: 'n2' });
    expect(chosen(opts, [a, b], { Image: 'busybox' })).toBe('node-2');
    expect(() => chosen(opts, [a, { ...b, drained: true }], { Image: 'busybox' })).toThrow(
      'No nodes available in the cluster\n0/2 nodes are available: 2 nodes: drained (node-1, node-2)',
    );
  });
});

describe('swarm node output', () => {
  const base = { Name: 'node-2', Addr: '10.0.0.2:2375', ID: 'X', Status: 'Healthy', Containers: 3, Running: 2, Since: '', Source: 'default' as const };
  test('drain says what happens and warns when not persisted', () => {
    const c = describeChange({ ...base, Availability: 'drain', Source: 'api', Since: '2026-01-01T00:00:00Z', Persisted: false, StateFile: '' });
    expect(c.out).toBe('node-2 drained: no new containers will be scheduled there; its 2 running container(s) keep running');
    expect(c.warning).toContain('not persisted');
    expect(describeChange({ ...base, Availability: 'active', Persisted: true, StateFile: '/x' }).warning).toBeUndefined();
  });

  test('ls is a table', () => {
    const out = formatAvailabilityTable([{ ...base, Availability: 'drain', Source: 'label' }]);
    expect(out.split('\n')[0]).toMatch(/^NAME\s+ADDRESS\s+STATUS\s+AVAILABILITY\s+CONTAINERS\s+SINCE$/);
    expect(out).toContain('drain (engine label)');
    expect(out).toContain('3 (2 running)');
  });
});
