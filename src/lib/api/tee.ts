/**
 * One client upload sent to several engines at once (`docker load`, `import` fanned out) without
 * holding it in memory: each chunk is written to every engine's request, and the client's stream is
 * paused while any engine is not keeping up (back-pressure), so memory stays at a few chunks whatever
 * the upload's size. An engine whose request fails is dropped; the others go on.
 */
import type { Readable, Writable } from 'node:stream';

export class UploadTee {
  private readonly sinks = new Set<Writable>();
  private waiting = new Set<Writable>();
  private flowing = false;
  private skipped = 0;

  constructor(
    private readonly source: Readable,
    private readonly expected: number,
  ) {
    source.pause();
  }

  /** Adds one engine request; the upload starts once all `expected` are added (or dropped). */
  add(sink: Writable): void {
    this.sinks.add(sink);
    sink.once('close', () => this.drop(sink));
    sink.once('error', () => this.drop(sink));
    this.maybeStart();
  }

  /** An engine that will not take part (its request could not be made). */
  skip(): void {
    this.skipped++;
    this.maybeStart();
  }

  private drop(sink: Writable): void {
    if (!this.sinks.delete(sink)) return;
    this.waiting.delete(sink);
    if (this.flowing && this.waiting.size === 0) this.source.resume();
    if (this.sinks.size === 0 && this.flowing) this.source.resume(); // nobody left: drain the client
  }

  private maybeStart(): void {
    if (this.flowing || this.sinks.size + this.skipped < this.expected) return;
    this.flowing = true;
    this.source.on('data', (chunk: Buffer) => {
      for (const sink of this.sinks) {
        if (!sink.write(chunk) && !this.waiting.has(sink)) {
          this.waiting.add(sink);
          sink.once('drain', () => {
            this.waiting.delete(sink);
            if (this.waiting.size === 0) this.source.resume();
          });
        }
      }
      if (this.waiting.size > 0) this.source.pause();
    });
    this.source.once('end', () => {
      for (const sink of this.sinks) sink.end();
    });
    this.source.resume();
  }
}
