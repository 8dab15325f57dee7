/**
 * Overcommit and CPU shares, one rule each (scheduler/resources.ts): what `docker info` shows of a
 * node is what the scheduler places against.
 */
import { describe, expect, test } from 'bun:test';
import { nodeView } from '../../../src/lib/api/system';
import { Engine } from '../../../src/lib/engine/engine';
import { setLogSink } from '../../../src/lib/log';
import { containerCpus, cpusToShares, overcommitPercent, requestedCpus, sharesToCpus, withOvercommit } from '../../../src/lib/scheduler/resources';
import { weighNodes } from '../../../src/lib/scheduler/strategies/strategy';
import { FakeEngine } from '../manager/fake-engine';
import { GiB, node, req } from './fixtures';

describe('overcommit: raw + raw × trunc(ratio × 100) / 100', () => {
  const rows: [number, number, number][] = [
    // [raw, ratio, capacity]
    [8 * GiB, 0.29, 8 * GiB + Math.trunc((8 * GiB * 28) / 100)], // 0.29 × 100 = 28.999…: 28 %
    [8 * GiB, 0.05, 8 * GiB + Math.trunc((8 * GiB * 5) / 100)],
    [2, 0.29, 2],
    [4, 0.05, 4],
    [32, 0.05, 33],
    [100, -0.2, 80],
    [3, -0.5, 2],
    [1000, 0, 1000],
  ];
  test.each(rows)('%p at %p → %p', (raw, ratio, want) => expect(withOvercommit(raw, ratio)).toBe(want));
  test('the percent', () => {
    expect(overcommitPercent(0.29)).toBe(28);
    expect(overcommitPercent(0.57)).toBe(56);
    expect(overcommitPercent(-0.2)).toBe(-20);
  });
});

test('docker info and the scheduler: one capacity for an 8 GiB, 2-CPU node at swarm.overcommit=0.29', async () => {
  setLogSink(() => undefined);
  const fake = new FakeEngine('node-1', 'AAAA', 2, 8 * GiB);
  const addr = await fake.start();
  const hooks = { onTransition: () => undefined, onEvent: () => undefined, engineWithId: () => undefined };
  const e = new Engine(addr, { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0.29 }, hooks);
  try {
    expect(await e.validate()).toBe(true);
    const shown = nodeView(e);
    expect(shown.totalMemory).toBe(10_995_116_277); // 10.99 GB (28 %), not 11.08 GB (29 %)
    const n = node('node-1', { totalMemory: e.rawMemory, totalCpus: e.rawCpus });
    // What info shows fits exactly; a byte more does not.
    expect(weighNodes([n], req({ HostConfig: { Memory: shown.totalMemory } }), -10, 0.29).ok).toBe(true);
    const over = weighNodes([n], req({ HostConfig: { Memory: shown.totalMemory + 1 } }), -10, 0.29);
    expect(over.ok ? '' : over.rejected.get(n.id)).toBe('insufficient memory (node too small)');
    expect(shown.totalCpus).toBe(2);
    expect(weighNodes([n], req({ HostConfig: { CpuShares: shown.totalCpus } }), -10, 0.29).ok).toBe(true);
    expect(weighNodes([n], req({ HostConfig: { CpuShares: shown.totalCpus + 1 } }), -10, 0.29).ok).toBe(false);
  } finally {
    e.stop();
    await fake.stop();
  }
});

describe('CPUs: -c is a CPU count, sent as engine shares and read back from them', () => {
  const rows: [number, number, number, number][] = [
    // [CPUs asked, engine CPUs, shares sent, CPUs read back]
    [1, 4, 256, 1],
    [1, 3, 342, 1],
    [4, 4, 1024, 4],
    [2, 8, 256, 2],
    [0, 4, 0, 0],
  ];
  test.each(rows)('%p CPUs on a %p-CPU engine: %p shares, read back %p', (cpus, engineCpus, shares, back) => {
    expect(cpusToShares(cpus, engineCpus)).toBe(shares);
    expect(sharesToCpus(shares, engineCpus)).toBe(back);
    expect(containerCpus({ CpuShares: shares }, engineCpus)).toBe(back);
    expect(requestedCpus({ CpuShares: cpus })).toBe(cpus);
  });
  test('--cpus (NanoCpus) counts too; with both, the larger', () => {
    expect(requestedCpus({ NanoCpus: 1_500_000_000 })).toBe(1.5);
    expect(containerCpus({ CpuShares: 512, NanoCpus: 1_500_000_000 }, 2)).toBe(1.5);
    expect(containerCpus({ CpuShares: 'x', NanoCpus: null }, 2)).toBe(0);
  });
});
