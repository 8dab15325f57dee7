/**
 * `--cpus` (HostConfig.NanoCpus) reserves CPUs as `-c` does: one rule for requests, for the
 * containers an engine reports (node snapshots, `docker info`) and for the strategies.
 */
import { describe, expect, test } from 'bun:test';
import { snapshotContainer } from '../../../src/lib/manager/cluster';
import { containerCpus, engineCreateBody, placeContainer, requestedCpus } from '../../../src/lib/scheduler';
import { container, node, req } from './fixtures';

describe('the CPUs a container reserves', () => {
  test('a request: -c counts CPUs, --cpus is NanoCpus / 1e9, with both the larger', () => {
    expect(requestedCpus({ CpuShares: 2 })).toBe(2);
    expect(requestedCpus({ NanoCpus: 1_500_000_000 })).toBe(1.5);
    expect(requestedCpus({ CpuShares: 1, NanoCpus: 2_500_000_000 })).toBe(2.5);
    expect(requestedCpus({ CpuShares: 3, NanoCpus: 500_000_000 })).toBe(3);
    expect(requestedCpus({})).toBe(0);
    expect(req({ Image: 'busybox', HostConfig: { NanoCpus: 1_500_000_000 } }).cpus).toBe(1.5);
  });

  test("an engine's container: CpuShares are read back as CPUs (v1's integer math), NanoCpus as they are", () => {
    expect(containerCpus({ CpuShares: 512 }, 2)).toBe(1);
    expect(containerCpus({ CpuShares: 342 }, 3)).toBe(1);
    expect(containerCpus({ NanoCpus: 1_500_000_000 }, 2)).toBe(1.5);
    expect(containerCpus({ CpuShares: 512, NanoCpus: 1_500_000_000 }, 2)).toBe(1.5);
    const snap = snapshotContainer({ id: 'x', summary: { Id: 'x', Names: ['/x'] }, inspect: { Id: 'x', HostConfig: { NanoCpus: 1_500_000_000 } } } as never, 2);
    expect(snap.cpus).toBe(1.5);
  });

  test('NanoCpus goes to the engine unchanged (it enforces the limit); CpuShares is converted', () => {
    const body = engineCreateBody(req({ Image: 'busybox', HostConfig: { NanoCpus: 1_500_000_000, CpuShares: 1 } }), 4);
    expect(body.HostConfig).toMatchObject({ NanoCpus: 1_500_000_000, CpuShares: 256 });
  });

  test('strategies: --cpus fills a node as -c does, and too much is refused', () => {
    // node-a already holds 1.5 of its 2 CPUs through --cpus; spread and binpack both see it.
    const nodes = [node('node-a', { totalCpus: 2, containers: [container('1', { cpus: 1.5 })] }), node('node-b', { totalCpus: 2, containers: [container('2'), container('3')] })];
    const one = req({ Image: 'busybox', HostConfig: { NanoCpus: 1_000_000_000 } });
    const spread = placeContainer(nodes, one, { strategy: 'spread', filters: [], overcommit: 0 });
    expect(spread.ok && spread.node.name).toBe('node-b');
    const binpack = placeContainer(nodes, req({ Image: 'busybox', HostConfig: { NanoCpus: 500_000_000 } }), { strategy: 'binpack', filters: [], overcommit: 0 });
    expect(binpack.ok && binpack.node.name).toBe('node-a');
    const big = placeContainer(nodes, req({ Image: 'busybox', HostConfig: { NanoCpus: 3_000_000_000 } }), { strategy: 'spread', filters: [], overcommit: 0 });
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.error.v1Message).toBe('no resources available to schedule container');
  });
});
