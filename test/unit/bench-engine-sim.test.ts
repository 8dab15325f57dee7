/**
 * Pure parts of the engine simulator (bench/sim/); its HTTP side is in test/integration. The first
 * table is of the product's humanDuration, which the simulator's Status texts are written with.
 */
import { describe, expect, test } from 'bun:test';
import { humanDuration } from '../../src/lib/api/format';
import { summaryFromInspect } from '../../src/lib/engine/cache-entry';
import type { ContainerInspect } from '../../src/lib/engine/docker-types';
import { loadProfile } from '../../bench/payloads/profile';
import { inspectJson, listEntry } from '../../bench/sim/containers-view';
import { parseEventTime } from '../../bench/sim/events';
import { routeOf } from '../../bench/sim/http';
import { findImage, initialImages } from '../../bench/sim/images';
import { populate } from '../../bench/sim/populate';
import { exitPlan, parseSignal } from '../../bench/sim/process';
import { Rng } from '../../bench/sim/random';
import { EngineState } from '../../bench/sim/state';

describe('humanDuration (go-units, as in "Up 3 hours")', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  test.each([
    [0, 'Less than a second'],
    [999, 'Less than a second'],
    [1 * s, '1 second'],
    [59 * s, '59 seconds'],
    [60 * s, 'About a minute'],
    [119 * s, 'About a minute'],
    [2 * m, '2 minutes'],
    [59 * m, '59 minutes'],
    [60 * m, 'About an hour'],
    [89 * m, 'About an hour'],
    [90 * m, '2 hours'],
    [47 * h, '47 hours'],
    [48 * h, '2 days'],
    [13 * d, '13 days'],
    [14 * d, '2 weeks'],
    [59 * d, '8 weeks'],
    [60 * d, '2 months'],
    [729 * d, '24 months'],
    [730 * d, '2 years'],
  ])('%d ms -> %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });
});

describe('an engine finds its images as dockerd does', () => {
  const images = initialImages();
  const [busybox, nginx] = images;
  test.each([
    ['busybox', busybox],
    ['busybox:latest', busybox],
    ['docker.io/library/nginx', nginx],
    ['redis', undefined], // untagged is :latest, and only redis:7-alpine is there
    ['redis:7-alpine', images[2]],
    [busybox!.id, busybox],
    [busybox!.id.slice(7, 19), busybox],
    [busybox!.digests[0]!, busybox],
    ['nosuch', undefined],
  ])('%s', (ref, want) => {
    expect(findImage(images, ref)).toBe(want);
  });
});

describe('calls are counted by route', () => {
  test.each([
    ['GET', '/v1.45/containers/0123abcd/json?size=1', 'GET /containers/{id}/json'],
    ['GET', '/containers/json?all=1', 'GET /containers/json'],
    ['GET', '/containers/json?all=1&filters=%7B%7D', 'GET /containers/json?filters'],
    ['POST', '/containers/create?name=x', 'POST /containers/create'],
    ['GET', '/images/registry:5000/app/json', 'GET /images/{name}/json'],
    ['DELETE', '/networks/front', 'DELETE /networks/{id}'],
    ['GET', '/_ping', 'GET /_ping'],
  ])('%s %s', (method, url, want) => {
    expect(routeOf(method, url)).toBe(want);
  });
});

describe('simulated processes', () => {
  test.each([
    [['sleep', '2'], false, { afterMs: 2000, code: 0 }],
    [['sleep', '1.5m'], false, { afterMs: 90_000, code: 0 }],
    [['/bin/echo', 'hi', 'there'], false, { afterMs: 0, code: 0, output: 'hi there\n' }],
    [['false'], false, { afterMs: 0, code: 1 }],
    [['sh', '-c', 'exit 3'], false, { afterMs: 0, code: 3 }],
    [['sh'], false, { afterMs: 0, code: 0 }],
    [['sh'], true, undefined],
    [['sleep', 'infinity'], false, undefined],
    [['nginx', '-g', 'daemon off;'], false, undefined],
  ] as const)('%j (interactive %p)', (argv, interactive, want) => {
    expect(exitPlan(argv, interactive)).toEqual(want);
  });

  test.each([
    ['KILL', 9],
    ['SIGTERM', 15],
    ['sigquit', 3],
    ['10', 10],
    ['65', undefined],
    ['SIGNOPE', undefined],
  ])('signal %s -> %p', (s, want) => {
    expect(parseSignal(s)).toBe(want);
  });
});

test('event times are kept to the nanosecond', () => {
  expect(parseEventTime('1700000000.000000001')).toBe(1_700_000_000_000_000_001n);
  expect(parseEventTime('1700000000')).toBe(1_700_000_000_000_000_000n);
  expect(parseEventTime('2023-11-14T22:13:20Z')).toBe(1_700_000_000_000_000_000n);
  expect(parseEventTime(null)).toBeUndefined();
  expect(() => parseEventTime('yesterday')).toThrow('invalid timestamp: yesterday');
});

describe.each(['20.10', '26'] as const)('dockerd %s: the list entry is the one the inspect derives', (kind) => {
  const s = new EngineState({
    index: 0,
    name: 'sim-0',
    host: '127.0.0.1',
    port: 0,
    labels: [],
    ncpu: 4,
    memTotal: 8 << 30,
    latencyMs: 0,
    jitterMs: 0,
    autoExit: false,
    rng: new Rng(7),
    profile: loadProfile(kind),
    workload: 'compose',
  });
  populate(s, 10);
  test('every container, with its Status text (health included, as dockerd writes it)', () => {
    const now = Date.now();
    for (const c of s.containers.values()) {
      const inspect = JSON.parse(JSON.stringify(inspectJson(s, c, false))) as ContainerInspect;
      const entry = listEntry(s, c, false, now);
      expect({ ...entry, Status: '' }).toEqual({ ...summaryFromInspect(inspect), Status: '' });
      if (c.status === 'running' && c.health) expect(entry.Status).toMatch(/^Up .* \(healthy\)$/);
      if (c.status === 'exited') expect(entry.Status).toMatch(new RegExp(`^Exited \\(${c.exitCode}\\) .* ago$`));
    }
  });
});
