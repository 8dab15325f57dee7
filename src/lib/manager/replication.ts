/**
 * Manager replication (spec §5): every manager started with `--replication` campaigns for the lock
 * at `<prefix>/docker/swarm/leader` (value = its `--advertise` address, TTL = `--replication-ttl`)
 * and follows who holds it. The holder is the primary: it serves the API and reschedules; the
 * others are replicas that answer `/_ping`, `/info` and `/version` themselves and pass everything
 * else to the primary (src/lib/api/replica.ts).
 *
 * Unlike v1, which stopped campaigning for good after a store outage, both loops here start over
 * after any store error, so leadership comes back once the store does.
 */
import { errorMessage } from '../errors';
import { log } from '../log';
import { watchLeader } from '../kv/lock';
import { openStore } from '../kv/open';
import { kvKey, LEADER_PATH, type HeldLock, type KVBackend, type KVStore } from '../kv/store';
import { parseStoreUrl } from '../kv/url';
import { delay } from '../kv/util';
import { kvError } from '../metrics/metrics';

export const LEADER_ELECTION_BACKENDS: readonly string[] = ['consul', 'etcd', 'zk'];
const LEADER_ELECTION_UNSUPPORTED = 'Leader election is only supported with consul, etcd and zookeeper discovery.';
export const NO_PRIMARY = 'No elected primary cluster manager';
export const PRIMARY_UNREACHABLE = 'Unable to reach primary cluster manager';

/** Discovery URL scheme (`nodes` when there is no `://`, as v1 reads it). */
export function discoveryScheme(url: string): string {
  const i = url.indexOf('://');
  return i < 0 ? 'nodes' : url.slice(0, i);
}

/** v1's check: leader election needs a KV discovery. Returns the error text or null. */
export function leaderElectionError(discoveryUrl: string): string | null {
  return LEADER_ELECTION_BACKENDS.includes(discoveryScheme(discoveryUrl)) ? null : LEADER_ELECTION_UNSUPPORTED;
}

type Role = 'primary' | 'replica';

export interface RoleInfo {
  role: Role;
  /** Address of the primary, shown by replicas. */
  primary?: string;
}

/** What the replica request gate needs to know about the election. */
export interface ElectionState {
  /** This manager's `--advertise` address. */
  readonly self: string;
  /** How long a request waits for a reachable primary before failing. */
  readonly waitMs: number;
  isPrimary(): boolean;
  /** The last known holder of the leader key (may be this manager, may be stale). */
  leader(): string | undefined;
  /** Resolves at the next change of role or leader, or when `signal` aborts. */
  waitForChange(signal: AbortSignal): Promise<void>;
}

export interface ReplicationOptions {
  store: KVStore;
  /** Full leader key, `<prefix>/docker/swarm/leader`. */
  key: string;
  advertise: string;
  ttlMs: number;
  /** Pause before campaigning/following again after a store error. */
  retryMs?: number;
}

export class Replication implements ElectionState {
  readonly self: string;
  readonly waitMs: number;
  private primary = false;
  private leaderAddr: string | undefined;
  private waiters = new Set<() => void>();
  private roleListeners: ((primary: boolean) => void)[] = [];

  constructor(readonly opts: ReplicationOptions) {
    this.self = opts.advertise;
    // A request that reaches a replica as the primary dies still gets served: takeover needs up to a TTL.
    this.waitMs = opts.ttlMs + 2000;
  }

  isPrimary(): boolean {
    return this.primary;
  }

  leader(): string | undefined {
    return this.primary ? this.self : this.leaderAddr;
  }

  roleInfo(): RoleInfo {
    if (this.primary) return { role: 'primary' };
    const l = this.leaderAddr;
    return l && l !== this.self ? { role: 'replica', primary: l } : { role: 'replica' };
  }

  /** Called with true when this manager becomes primary and false when it stops being primary. */
  onRoleChange(fn: (primary: boolean) => void): void {
    this.roleListeners.push(fn);
  }

  waitForChange(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        this.waiters.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }

  private setPrimary(primary: boolean): void {
    if (this.primary === primary) return;
    this.primary = primary;
    this.changed();
    for (const fn of this.roleListeners) {
      try {
        fn(primary);
      } catch (err) {
        log.error('Leader Election: role change handler failed', { error: errorMessage(err) });
      }
    }
  }

  /** Campaigns and follows until `signal` aborts; then resigns (releases the lock if held). */
  async run(signal: AbortSignal): Promise<void> {
    await Promise.all([this.campaign(signal), this.follow(signal)]);
  }

  private async campaign(signal: AbortSignal): Promise<void> {
    const retryMs = this.opts.retryMs ?? 1000;
    let lastError = '';
    while (!signal.aborted) {
      let held: HeldLock;
      try {
        const lock = this.opts.store.newLock(this.opts.key, this.self, {
          ttlMs: this.opts.ttlMs,
          onError: (err) => {
            kvError('election');
            // One line per distinct problem, not one per retry.
            if (err.message !== lastError) log.warn('Leader Election: store error, retrying', { error: err.message });
            lastError = err.message;
          },
        });
        held = await lock.acquire(signal);
      } catch (err) {
        if (signal.aborted) break;
        kvError('election');
        log.error('Leader Election: campaign failed, retrying', { error: errorMessage(err) });
        await delay(retryMs, signal);
        continue;
      }
      lastError = '';
      log.info('Leader Election: Cluster leadership acquired');
      this.setPrimary(true);
      await new Promise<void>((resolve) => {
        const any = AbortSignal.any([held.lost, signal]);
        if (any.aborted) return resolve();
        any.addEventListener('abort', () => resolve(), { once: true });
      });
      if (signal.aborted) {
        this.setPrimary(false);
        await held.release().catch((err: unknown) => log.warn('Leader Election: could not release leadership', { error: errorMessage(err) }));
        log.info('Leader Election: Cluster leadership released');
        break;
      }
      const reason = held.lost.reason instanceof Error ? held.lost.reason.message : '';
      log.info('Leader Election: Cluster leadership lost', { reason });
      this.setPrimary(false);
      await delay(Math.min(retryMs, 1000), signal);
    }
  }

  private async follow(signal: AbortSignal): Promise<void> {
    const retryMs = this.opts.retryMs ?? 1000;
    while (!signal.aborted) {
      try {
        for await (const ev of watchLeader(this.opts.store, this.opts.key, signal)) {
          if (ev.kind === 'error') {
            kvError('leader-watch');
            // Keep the last known leader: a primary that is alive keeps serving while the store is away.
            log.debug('Leader Election: leader watch error', { error: ev.error.message });
            continue;
          }
          const prev = this.leaderAddr;
          this.leaderAddr = ev.leader;
          // As v1, every manager logs every new leader (itself included).
          if (ev.leader && ev.leader !== prev) log.info(`New leader elected: ${ev.leader}`);
          this.changed();
        }
      } catch (err) {
        if (signal.aborted) break;
        kvError('leader-watch');
        log.warn('Leader Election: leader watch failed, retrying', { error: errorMessage(err) });
        await delay(retryMs, signal);
      }
    }
  }
}

export interface ReplicationSetup {
  replication: Replication;
  /** Runs the election until `signal` aborts, resigns, closes the store. */
  run(signal: AbortSignal): Promise<void>;
}

/** Opens a store connection of its own for the election on the discovery's KV backend. */
export async function setupReplication(
  discoveryUrl: string,
  discoveryOpts: Record<string, string>,
  advertise: string,
  ttlMs: number,
): Promise<ReplicationSetup> {
  const scheme = discoveryScheme(discoveryUrl);
  if (!LEADER_ELECTION_BACKENDS.includes(scheme)) throw new Error(LEADER_ELECTION_UNSUPPORTED);
  const endpoint = parseStoreUrl(scheme as KVBackend, discoveryUrl.slice(scheme.length + 3), discoveryOpts);
  const store = await openStore(endpoint, { retryMs: 1000, opTimeoutMs: Math.max(1000, Math.min(5000, Math.floor(ttlMs / 2))) });
  const key = kvKey(endpoint.prefix, LEADER_PATH);
  const replication = new Replication({ store, key, advertise, ttlMs, retryMs: 1000 });
  log.info('Leader Election: campaigning', { key, advertise, ttl: `${ttlMs}ms` });
  return {
    replication,
    async run(signal) {
      try {
        await replication.run(signal);
      } finally {
        await store.close().catch(() => undefined);
      }
    },
  };
}
