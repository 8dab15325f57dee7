/** Small async helpers shared by the KV adapters (no client library here). */

export function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function abortError(): Error {
  const err = new Error('aborted');
  err.name = 'AbortError';
  return err;
}

/** Resolves after `ms`, or as soon as `signal` aborts (the discovery loops' sleep). */
export { sleep as delay } from '../discovery/poll';

export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** Rejects with a TimeoutError (`what` timed out after N ms) if `promise` takes longer than `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(`${what}: no answer within ${formatMs(ms)}`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(toError(e));
      },
    );
  });
}

export function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A one-consumer queue bridging callback-style producers (stream events, watchers) and an async
 * generator: `push` values, `fail` once with an error; `next` waits for the next value.
 */
export class EventQueue<T> {
  private items: T[] = [];
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    this.notify();
  }

  fail(err: unknown): void {
    if (!this.error) this.error = toError(err);
    this.notify();
  }

  get failed(): boolean {
    return this.error !== undefined;
  }

  /** Next value; undefined when `signal` aborted; throws the failure once values are drained. */
  async next(signal: AbortSignal): Promise<T | undefined> {
    for (;;) {
      if (signal.aborted) return undefined;
      const item = this.items.shift();
      if (item !== undefined) return item;
      if (this.error) throw this.error;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  private notify(): void {
    this.wake?.();
  }
}

/**
 * Keeps the process alive while a push-based watch waits on sockets that the client library may have
 * unref'd (a `list` or `manage` must not exit in the middle of a watch).
 */
export function holdProcess(): () => void {
  const timer = setInterval(() => undefined, 1 << 30);
  return () => clearInterval(timer);
}
