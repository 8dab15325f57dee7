/** Pure helpers of the engine simulator (bench/engine-sim.ts); its HTTP side is in test/integration. */
import { describe, expect, test } from 'bun:test';
import { humanDuration, normalizeImageRef } from '../../bench/engine-sim';

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

describe('normalizeImageRef', () => {
  test.each([
    ['busybox', 'busybox:latest'],
    ['busybox:1.36', 'busybox:1.36'],
    ['library/busybox', 'busybox:latest'],
    ['docker.io/library/busybox:latest', 'busybox:latest'],
    ['docker.io/me/app', 'me/app:latest'],
    ['registry.local:5000/app', 'registry.local:5000/app:latest'],
    ['registry.local:5000/app:v2', 'registry.local:5000/app:v2'],
    ['busybox@sha256:abc', 'busybox@sha256:abc'],
  ])('%s -> %s', (ref, want) => {
    expect(normalizeImageRef(ref)).toBe(want);
  });
});
