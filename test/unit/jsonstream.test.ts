/** The event/progress stream parser: objects across chunks, bounded objects, linear cost. */
import { describe, expect, test } from 'bun:test';
import { JsonStreamParser } from '../../src/lib/engine/jsonstream';

describe('JsonStreamParser', () => {
  test('an object split over many chunks comes out once, whole', () => {
    const p = new JsonStreamParser();
    const text = JSON.stringify({ a: 'x'.repeat(1000), b: [1, { c: '}{"' }] }) + '\n' + JSON.stringify({ d: 1 });
    const got: unknown[] = [];
    for (let i = 0; i < text.length; i += 7) got.push(...p.push(text.slice(i, i + 7)));
    expect(got).toEqual([{ a: 'x'.repeat(1000), b: [1, { c: '}{"' }] }, { d: 1 }]);
  });

  test('an object over the limit is dropped and reported; the stream goes on', () => {
    const sizes: number[] = [];
    const p = new JsonStreamParser(1000, (n) => sizes.push(n));
    const big = JSON.stringify({ label: 'y'.repeat(5000) });
    const got: unknown[] = [];
    for (let i = 0; i < big.length; i += 100) got.push(...p.push(big.slice(i, i + 100)));
    got.push(...p.push('\n{"next":true}\n'));
    expect(got).toEqual([{ next: true }]);
    expect(sizes).toEqual([big.length]);
  });

  test('a 32 MB event in 64 KiB chunks costs time linear in its size', () => {
    // The old parser rescanned its whole buffer on every chunk (~500 rescans of up to 32 MB here).
    const label = 'z'.repeat(32 * 1024 * 1024);
    const event = `{"Type":"container","Actor":{"Attributes":{"big":"${label}"}}}\n{"Type":"container","Action":"start"}\n`;
    const time = (chunkSize: number) => {
      const p = new JsonStreamParser(64 * 1024 * 1024);
      const t0 = performance.now();
      let n = 0;
      for (let i = 0; i < event.length; i += chunkSize) n += p.push(event.slice(i, i + chunkSize)).length;
      expect(n).toBe(2);
      return performance.now() - t0;
    };
    const whole = time(event.length);
    const chunked = time(64 * 1024);
    // Linear: chunking costs about the same as one piece (a quadratic scan is hundreds of times slower).
    expect(chunked).toBeLessThan(whole * 10 + 200);
  });
});
