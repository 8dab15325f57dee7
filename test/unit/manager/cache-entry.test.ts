/**
 * The cache entry of a container (src/lib/engine/cache-entry.ts) against what real engines answer:
 * the list entry derived from an inspect equals the engine's own list entry, for dockerd 20.10 and
 * 26, for compose containers and plain ones in every state (captured on the test bed, see
 * bench/payloads/capture.ts); the compact inspect keeps what the manager reads.
 */
import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheEntry, compactInspect, summaryFromInspect } from '../../../src/lib/engine/cache-entry';
import type { ContainerInspect, ContainerSummary } from '../../../src/lib/engine/docker-types';
import { recreateBody } from '../../../src/lib/manager/reschedule';

interface Captured {
  containers: { name: string; state: string; summary: ContainerSummary; inspect: ContainerInspect }[];
}

const captures = ['20.10', '26'].map((kind) => ({ kind, doc: JSON.parse(readFileSync(join(import.meta.dir, `../../../bench/payloads/dockerd-${kind}.json`), 'utf8')) as Captured }));

/** Go maps: the engine lists ports and mounts in no particular order. */
function normalise(s: ContainerSummary): unknown {
  const sort = (list: readonly unknown[] | null | undefined) => [...(list ?? [])].map((x) => JSON.stringify(x)).sort();
  return { ...s, Status: undefined, Ports: sort(s.Ports), Mounts: sort(s.Mounts) };
}

describe.each(captures)('dockerd $kind', ({ doc }) => {
  test.each(doc.containers.map((c) => [c.name, c] as const))('%s: the list entry derived from the inspect is the engine\'s', (_name, c) => {
    expect(normalise(summaryFromInspect(c.inspect))).toEqual(normalise(c.summary));
  });

  test('the compact inspect keeps state, resources, ports and labels, not the probe log or paths', () => {
    for (const c of doc.containers) {
      const e = cacheEntry(c.inspect, c.summary);
      const i = e.inspect!;
      expect(i.State?.Status).toBe(c.inspect.State?.Status);
      expect(i.State?.StartedAt).toBe(c.inspect.State?.StartedAt);
      expect(i.State?.ExitCode).toBe(c.inspect.State?.ExitCode);
      expect(i.State?.Health?.Status).toBe(c.inspect.State?.Health?.Status);
      expect(i.State?.Health?.Log).toBeUndefined();
      expect(i.HostConfig?.Memory).toBe(c.inspect.HostConfig?.Memory);
      expect(i.HostConfig?.NanoCpus).toBe(c.inspect.HostConfig?.NanoCpus);
      expect(i.HostConfig?.PortBindings).toEqual(c.inspect.HostConfig?.PortBindings);
      expect(i.NetworkSettings?.Ports).toEqual(c.inspect.NetworkSettings?.Ports);
      expect(i.Config?.ExposedPorts).toEqual(c.inspect.Config?.ExposedPorts);
      expect(i.Config?.Labels).toBe(e.summary.Labels!);
      expect(i.ResolvConfPath).toBeUndefined();
      expect(i.GraphDriver).toBeUndefined();
      expect(JSON.stringify(i).length).toBeLessThan(JSON.stringify(c.inspect).length / 3);
    }
  });

  // A rescheduled container is made again from its cache when its node is gone; a global container's
  // copy is made from another copy's cache when a node joins.
  test.each([
    ['a reschedule policy', { 'com.docker.swarm.reschedule-policies': '["on-node-failure"]' }],
    ['a global container\'s copy', { 'com.docker.swarm.global': 'true', 'com.docker.swarm.global.id': 'g0123456789ab' }],
  ])('a container with %s keeps what recreates it', (_what, extra) => {
    const web = doc.containers.find((c) => c.name === 'shop-web-1')!;
    const labels = { ...web.inspect.Config!.Labels, ...extra };
    const inspect = { ...web.inspect, Config: { ...web.inspect.Config, Labels: labels } };
    const kept = compactInspect(inspect, labels);
    const whole = { id: String(inspect.Id), summary: web.summary, inspect };
    expect(recreateBody({ id: whole.id, summary: web.summary, inspect: kept }, 4)).toEqual(recreateBody(whole, 4));
  });

  test('a plain container keeps less than what recreates it', () => {
    const web = doc.containers.find((c) => c.name === 'shop-web-1')!;
    const kept = compactInspect(web.inspect, web.inspect.Config!.Labels);
    const whole = { id: String(web.inspect.Id), summary: web.summary, inspect: web.inspect };
    expect(recreateBody({ id: whole.id, summary: web.summary, inspect: kept }, 4)).not.toEqual(recreateBody(whole, 4));
  });
});

test('link aliases and the list\'s image rendering survive a re-read', () => {
  const c = captures[1]!.doc.containers.find((x) => x.name === 'plain-running')!;
  const previous = { ...c.summary, Names: [...(c.summary.Names ?? []), '/other/alias'], Image: 'sha256:abc' === c.summary.ImageID ? 'x' : c.summary.Image };
  const s = summaryFromInspect(c.inspect, previous);
  expect(s.Names).toEqual(['/plain-running', '/other/alias']);
  expect(s.Image).toBe(c.summary.Image!);
});
