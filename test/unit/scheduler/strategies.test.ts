import { describe, expect, test } from 'bun:test';
import {
  binpackStrategy,
  getStrategy,
  overcommitPercent,
  randomStrategy,
  spreadStrategy,
  strategyNames,
  weighNodes,
  withOvercommit,
} from '../../../src/lib/scheduler';
import type { ContainerRequest, NodeSnapshot, RankResult } from '../../../src/lib/scheduler';
import { container, GiB, names, node, req } from './fixtures';

const MiB = 1024 * 1024;

function ranked(result: RankResult): string[] {
  if (!result.ok) throw new Error(result.error);
  return names(result.ranked.map((r) => r.node));
}

function withMemory(name: string, used: number[], over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return node(name, { containers: used.map((m, i) => container(`${name}${i}`, { memory: m })), ...over });
}

const mem = (bytes: number): ContainerRequest => req({ HostConfig: { Memory: bytes } });

describe('overcommit math (integer percent, as v1)', () => {
  test('percent is trunc(ratio*100)', () => {
    expect(overcommitPercent(0.05)).toBe(5);
    expect(overcommitPercent(0.29)).toBe(28); // 0.29*100 = 28.999999999999996
    expect(overcommitPercent(-0.2)).toBe(-20);
  });

  test('capacity = raw + raw*pct/100 with integer division', () => {
    expect(withOvercommit(4 * GiB, 0.05)).toBe(4 * GiB + Math.trunc((4 * GiB * 5) / 100));
    expect(withOvercommit(4)).toBe(4); // 4 CPUs: 4*5/100 = 0
    expect(withOvercommit(32)).toBe(33);
    expect(withOvercommit(100, -0.2)).toBe(80);
    expect(withOvercommit(3, -0.5)).toBe(2); // 3 + trunc(-1.5)
    expect(withOvercommit(1000, 0)).toBe(1000);
  });

  test('a request slightly above raw memory fits thanks to the default 5%, not with 0', () => {
    const nodes = [node('a', { totalMemory: GiB })];
    const r = mem(GiB + 20 * MiB);
    expect(spreadStrategy.rank(nodes, r).ok).toBe(true);
    expect(spreadStrategy.rank(nodes, r, { overcommit: 0 }).ok).toBe(false);
  });

  test('under-commit shrinks capacity', () => {
    const nodes = [node('a', { totalMemory: 1000 })];
    expect(spreadStrategy.rank(nodes, mem(900), { overcommit: -0.2 }).ok).toBe(false);
    expect(spreadStrategy.rank(nodes, mem(800), { overcommit: -0.2 }).ok).toBe(true);
  });
});

describe('weighing', () => {
  test('scores are integer percents of capacity; no request scores 100', () => {
    const n = node('a', { totalCpus: 4, totalMemory: 1000, containers: [container('x', { cpus: 1, memory: 300 })] });
    const r = weighNodes([n], req({ HostConfig: { CpuShares: 2, Memory: 333 } }), -10, 0);
    expect(r.ok && r.weighed[0]!.score).toEqual({ cpuScore: 75, memoryScore: 63, weight: 75 + 63 - 1000 });
    const none = weighNodes([n], req({}), 10, 0);
    expect(none.ok && none.weighed[0]!.score).toEqual({ cpuScore: 100, memoryScore: 100, weight: 1200 });
  });

  test('stopped containers keep their reservations', () => {
    const n = node('a', { totalMemory: 1000, containers: [container('x', { memory: 800, state: 'exited' })] });
    expect(spreadStrategy.rank([n], mem(300), { overcommit: 0 }).ok).toBe(false);
  });

  test('a node exactly full is still eligible (score 100); integer truncation lets v1 pass up to 1% over', () => {
    const n = withMemory('a', [600], { totalMemory: 1000 });
    expect(spreadStrategy.rank([n], mem(400), { overcommit: 0 }).ok).toBe(true);
    expect(spreadStrategy.rank([n], mem(409), { overcommit: 0 }).ok).toBe(true); // 1009*100/1000 = 100
    expect(spreadStrategy.rank([n], mem(410), { overcommit: 0 }).ok).toBe(false); // 101
  });

  test('no eligible node: v1 text and per-node reasons', () => {
    const nodes = [
      node('small', { totalMemory: 100, totalCpus: 1 }),
      withMemory('full', [900], { totalMemory: 1000 }),
      node('fewcpu', { totalCpus: 1, totalMemory: 10 * GiB }),
    ];
    const r = spreadStrategy.rank(nodes, req({ HostConfig: { Memory: 200, CpuShares: 2 } }), { overcommit: 0 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toBe('no resources available to schedule container');
    expect(r.rejected.get(nodes[0]!.id)).toBe('insufficient cpus and memory (node too small)');
    expect(r.rejected.get(nodes[1]!.id)).toBe('insufficient memory (reserved)');
    expect(r.rejected.get(nodes[2]!.id)).toBe('insufficient cpus (node too small)');
    expect(binpackStrategy.rank(nodes, req({ HostConfig: { Memory: 200, CpuShares: 2 } })).ok).toBe(false);
  });
});

describe('spread', () => {
  test('least loaded first', () => {
    const nodes = [withMemory('a', [600]), withMemory('b', [100]), withMemory('c', [300])].map((n) => ({ ...n, totalMemory: 1000 }));
    expect(ranked(spreadStrategy.rank(nodes, mem(100), { overcommit: 0 }))).toEqual(['b', 'c', 'a']);
  });

  test('without -m/-c: container-count balancing, any state counted', () => {
    const nodes = [
      node('a', { containers: [container('1'), container('2')] }),
      node('b', { containers: [container('3', { state: 'exited' })] }),
      node('c', { containers: [container('4'), container('5'), container('6', { state: 'exited' })] }),
    ];
    expect(ranked(spreadStrategy.rank(nodes, req({})))).toEqual(['b', 'a', 'c']);
  });

  test('spreadCountsRunningOnly: stopped containers do not count in the tie-break', () => {
    const stopped = Array.from({ length: 5 }, (_, i) => container(`s${i}`, { state: 'exited' }));
    const nodes = [node('a', { containers: stopped }), node('b', { containers: [container('r1'), container('r2')] })];
    expect(ranked(spreadStrategy.rank(nodes, req({})))).toEqual(['b', 'a']);
    expect(ranked(spreadStrategy.rank(nodes, req({}), { spreadCountsRunningOnly: true }))).toEqual(['a', 'b']);
  });

  test('spreadCountsRunningOnly still counts pending reservations', () => {
    const nodes = [node('a', { containers: [container('p', { state: 'pending' })] }), node('b', { containers: [container('x', { state: 'created' })] })];
    expect(ranked(spreadStrategy.rank(nodes, req({}), { spreadCountsRunningOnly: true }))).toEqual(['b', 'a']);
  });

  test('health term: healthier first even when more loaded', () => {
    const nodes = [
      withMemory('sick', [], { totalMemory: 1000, healthIndicator: 67 }),
      withMemory('busy', [800], { totalMemory: 1000, healthIndicator: 100 }),
    ];
    // busy: 0+90-1000 = -910; sick: 0+10-670 = -660
    expect(ranked(spreadStrategy.rank(nodes, mem(100), { overcommit: 0 }))).toEqual(['busy', 'sick']);
  });

  test('sequential placements balance across nodes', () => {
    let nodes = [node('a'), node('b'), node('c')];
    for (let i = 0; i < 9; i++) {
      const r = spreadStrategy.rank(nodes, mem(100 * MiB));
      if (!r.ok) throw new Error(r.error);
      const chosen = r.ranked[0]!.node.id;
      nodes = nodes.map((n) => (n.id === chosen ? { ...n, containers: [...n.containers, container(`x${i}`, { memory: 100 * MiB })] } : n));
    }
    expect(nodes.map((n) => n.containers.length)).toEqual([3, 3, 3]);
  });
});

describe('binpack', () => {
  test('most loaded node that still fits first', () => {
    const nodes = [withMemory('a', [600]), withMemory('b', [100]), withMemory('c', [950])].map((n) => ({ ...n, totalMemory: 1000 }));
    expect(ranked(binpackStrategy.rank(nodes, mem(100), { overcommit: 0 }))).toEqual(['a', 'b']);
  });

  test('equal weight: more containers first', () => {
    const nodes = [node('a', { containers: [container('1')] }), node('b', { containers: [container('2'), container('3')] }), node('c')];
    expect(ranked(binpackStrategy.rank(nodes, req({})))).toEqual(['b', 'a', 'c']);
  });

  test('health term: healthiest first', () => {
    const nodes = [withMemory('sick', [800], { totalMemory: 1000, healthIndicator: 67 }), withMemory('well', [], { totalMemory: 1000 })];
    expect(ranked(binpackStrategy.rank(nodes, mem(100), { overcommit: 0 }))).toEqual(['well', 'sick']);
  });

  test('fills one node before the next', () => {
    let nodes = [node('a', { totalMemory: 1000 }), node('b', { totalMemory: 1000 }), node('c', { totalMemory: 1000 })];
    const order: string[] = [];
    for (let i = 0; i < 25; i++) {
      const r = binpackStrategy.rank(nodes, mem(100), { overcommit: 0 });
      if (!r.ok) throw new Error(r.error);
      const chosen = r.ranked[0]!.node;
      order.push(chosen.name);
      nodes = nodes.map((n) => (n.id === chosen.id ? { ...n, containers: [...n.containers, container(`x${i}`, { memory: 100 })] } : n));
    }
    const first = order[0]!;
    expect(order.slice(0, 10).every((n) => n === first)).toBe(true);
    expect(order[10]).not.toBe(first);
    expect(new Set(order.slice(10, 20)).size).toBe(1);
    expect(nodes.map((n) => n.containers.length).sort()).toEqual([10, 10, 5]);
  });

  test('binpacking is an alias', () => {
    expect(getStrategy('binpacking')).toBe(binpackStrategy);
  });
});

describe('random', () => {
  test('Fisher-Yates driven by the injected rng', () => {
    const nodes = [node('a'), node('b'), node('c')];
    expect(ranked(randomStrategy.rank(nodes, req({}), { rng: () => 0 }))).toEqual(['b', 'c', 'a']);
    expect(ranked(randomStrategy.rank(nodes, req({}), { rng: () => 0.999 }))).toEqual(['a', 'b', 'c']);
    const seq = [0.5, 0.2];
    expect(ranked(randomStrategy.rank(nodes, req({}), { rng: () => seq.shift()! }))).toEqual(['c', 'a', 'b']);
  });

  test('no resource check at all', () => {
    const nodes = [node('tiny', { totalMemory: 1, totalCpus: 1 })];
    expect(ranked(randomStrategy.rank(nodes, req({ HostConfig: { Memory: GiB, CpuShares: 8 } }), { rng: () => 0 }))).toEqual(['tiny']);
  });

  test('does not modify its input', () => {
    const nodes = [node('a'), node('b')];
    randomStrategy.rank(nodes, req({}), { rng: () => 0 });
    expect(names(nodes)).toEqual(['a', 'b']);
  });
});

describe('registry', () => {
  test('names and default', () => {
    expect(getStrategy().name).toBe('spread');
    expect(getStrategy('random')).toBe(randomStrategy);
    expect(strategyNames().sort()).toEqual(['binpack', 'binpacking', 'random', 'spread']);
    expect(() => getStrategy('roundrobin')).toThrow('strategy not supported');
  });
});
