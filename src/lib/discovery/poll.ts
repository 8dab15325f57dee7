/** Shared watch loop for backends that can only be polled (token service, file). */
import { sameEntries } from './entries';
import type { WatchEvent } from './types';

/**
 * Fetches immediately, then every `periodMs`; yields the entry set when it changes (and the first
 * time), errors every time they happen.
 */
export async function* pollEntries(fetch: () => Promise<string[]>, periodMs: number, signal: AbortSignal): AsyncGenerator<WatchEvent> {
  let last: string[] | undefined;
  while (!signal.aborted) {
    try {
      const entries = await fetch();
      if (!last || !sameEntries(last, entries)) {
        last = entries;
        yield { kind: 'entries', entries };
      }
    } catch (err) {
      yield { kind: 'error', error: err instanceof Error ? err : new Error(String(err)) };
    }
    await sleep(periodMs, signal);
  }
}

/** Resolves after `ms` or as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
