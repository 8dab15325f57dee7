/**
 * The store-independent half of the TTL lock: the acquire loop, background renewal, loss detection
 * and release. Each adapter supplies a `LockDriver` that knows its store's atomic primitives
 * (etcd: lease + create-if-absent transaction; Consul: session + `?acquire`; ZooKeeper: ephemeral node).
 * Also here: `watchLeader`, the follower side of leader election.
 */
import type { HeldLock, KeyEvent, KVLock, KVStore, LockOptions } from './store';
import { abortError, delay, toError } from './util';

/** One contender's view of one lock key; created afresh for every `acquire`. */
export interface LockDriver {
  /** Tries once to take the key; true when this contender holds it now (also if it already did). */
  tryAcquire(): Promise<boolean>;
  /** Extends the hold; false when it is gone (expired, deleted, taken). Throws on store errors. */
  renew(): Promise<boolean>;
  /** Frees the key if still held, and drops the lease/session. */
  release(): Promise<void>;
  /** Resolves when the key may have become free (or spuriously); returns early when `signal` aborts. */
  waitForChange(signal: AbortSignal): Promise<void>;
}

export interface LockRuntime {
  /** Delay before retrying after a store error. */
  retryMs: number;
  /** Called with store errors met while campaigning or renewing (they are retried). */
  onError?: (err: Error) => void;
}

class LockLostError extends Error {
  override readonly name = 'LockLostError';
}

export function createLock(key: string, value: string, options: LockOptions, runtime: LockRuntime, makeDriver: () => LockDriver): KVLock {
  const ttlMs = options.ttlMs;
  if (!(ttlMs > 0)) throw new Error(`lock TTL must be positive (got ${ttlMs})`);
  const renewEveryMs = options.renewEveryMs ?? Math.max(100, Math.floor(ttlMs / 3));
  return {
    key,
    value,
    async acquire(signal) {
      const driver = makeDriver();
      for (;;) {
        if (signal.aborted) {
          await driver.release().catch(() => undefined);
          throw abortError();
        }
        try {
          if (await driver.tryAcquire()) {
            if (signal.aborted) continue; // release above, then throw
            return hold(key, driver, ttlMs, renewEveryMs, runtime);
          }
          // Wait for the holder to go away, but retry at least every TTL in case a change was missed.
          await driver.waitForChange(AbortSignal.any([signal, AbortSignal.timeout(ttlMs)]));
        } catch (err) {
          runtime.onError?.(toError(err));
          await delay(runtime.retryMs, signal);
        }
      }
    },
  };
}

function hold(key: string, driver: LockDriver, ttlMs: number, renewEveryMs: number, runtime: LockRuntime): HeldLock {
  const controller = new AbortController();
  let lastRenewed = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let chain: Promise<void> = Promise.resolve();

  const lose = (reason: Error) => {
    if (controller.signal.aborted) return;
    if (timer) clearTimeout(timer);
    controller.abort(reason);
  };

  const renewNow = async (): Promise<void> => {
    if (controller.signal.aborted) throw toError(controller.signal.reason);
    let ok: boolean;
    try {
      ok = await driver.renew();
    } catch (err) {
      const error = toError(err);
      // The store may already have expired us: give up before it surely has, so two holders never overlap.
      if (Date.now() - lastRenewed >= ttlMs - renewEveryMs) {
        lose(new LockLostError(`lock ${key} lost: could not renew it for ${Date.now() - lastRenewed} ms (${error.message})`));
        void driver.release().catch(() => undefined);
      }
      throw error;
    }
    if (!ok) {
      const error = new LockLostError(`lock ${key} lost: it expired or was taken over`);
      lose(error);
      throw error;
    }
    lastRenewed = Date.now();
  };

  const serialized = (): Promise<void> => {
    const next = chain.then(renewNow, renewNow);
    chain = next.catch(() => undefined);
    return next;
  };

  const schedule = () => {
    timer = setTimeout(() => {
      serialized()
        .catch((err: unknown) => {
          if (!controller.signal.aborted) runtime.onError?.(toError(err));
        })
        .finally(() => {
          if (!controller.signal.aborted) schedule();
        });
    }, renewEveryMs);
  };
  schedule();

  return {
    lost: controller.signal,
    renew: serialized,
    async release() {
      const wasHeld = !controller.signal.aborted;
      lose(new LockLostError(`lock ${key} released`));
      await chain;
      if (wasHeld) await driver.release();
    },
  };
}

export type LeaderEvent = { kind: 'leader'; leader: string | undefined } | { kind: 'error'; error: Error };

/**
 * Follows who holds a lock: yields the holder's value (undefined = nobody) first and on every change,
 * and errors as they happen; after an error the current holder is yielded again once known.
 */
export async function* watchLeader(store: KVStore, key: string, signal: AbortSignal): AsyncGenerator<LeaderEvent> {
  let last: { leader: string | undefined } | undefined;
  for await (const event of store.watchKey(key, signal) as AsyncIterable<KeyEvent>) {
    if (event.kind === 'error') {
      last = undefined;
      yield event;
    } else if (!last || last.leader !== event.value) {
      last = { leader: event.value };
      yield { kind: 'leader', leader: event.value };
    }
  }
}
