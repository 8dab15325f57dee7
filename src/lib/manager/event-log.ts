/**
 * The manager's event history: every engine's events and its own (`engine_connect`, ...) merged in
 * time order, bounded by count and by age, which `docker events --since/--until` replays. Events
 * caught up after an engine reconnects arrive late and are put in their place; an event already held
 * (same node, time, timeNano, id, action) is not held twice. Pure: the clock is passed in.
 */
import { eventKey, eventNano } from '../engine/event-cursor';
import type { DockerEvent } from '../engine/docker-types';

export interface EventLogOptions {
  /** --events-history: at most this many events (0: no history). */
  maxEvents: number;
  /** --events-max-age: events older than this are dropped. */
  maxAgeMs: number;
}

export const DEFAULT_EVENT_LOG: EventLogOptions = { maxEvents: 10_000, maxAgeMs: 60 * 60_000 };

/** What the log needs of an event: its time, identity and node. */
export type LoggableEvent = DockerEvent & { node?: { Id: string } };

export type AppendResult = 'added' | 'duplicate' | 'expired';

interface Entry<E> {
  nano: number;
  key: string;
  ev: E;
}

export class EventLog<E extends LoggableEvent> {
  /** Sorted by time (equal times in arrival order); live entries start at `head`. */
  private entries: Entry<E>[] = [];
  private head = 0;
  private readonly keys = new Set<string>();

  constructor(
    readonly opts: EventLogOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.length - this.head;
  }

  /** Keeps `ev` in its place by time; 'duplicate' when it is already held, 'expired' when too old to keep. */
  append(ev: E): AppendResult {
    if (this.opts.maxEvents <= 0) return 'expired';
    this.prune();
    const nano = eventNano(ev);
    if (nano < this.cutoff()) return 'expired';
    const key = `${ev.node?.Id ?? ''}|${eventKey(ev)}`;
    if (this.keys.has(key)) return 'duplicate';
    if (this.size >= this.opts.maxEvents && nano < this.entries[this.head]!.nano) return 'expired';
    const at = this.upperBound(nano);
    if (at === this.entries.length) this.entries.push({ nano, key, ev });
    else this.entries.splice(at, 0, { nano, key, ev });
    this.keys.add(key);
    while (this.size > this.opts.maxEvents) this.dropOldest();
    this.compact();
    return 'added';
  }

  /** Events with sinceNano <= time <= untilNano (inclusive, as dockerd), oldest first. */
  select(sinceNano: number, untilNano = Infinity): E[] {
    this.prune();
    const out: E[] = [];
    for (let i = this.lowerBound(sinceNano); i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.nano > untilNano) break;
      out.push(e.ev);
    }
    return out;
  }

  private cutoff(): number {
    return (this.now() - this.opts.maxAgeMs) * 1e6;
  }

  private prune(): void {
    const cutoff = this.cutoff();
    while (this.size > 0 && this.entries[this.head]!.nano < cutoff) this.dropOldest();
    this.compact();
  }

  private dropOldest(): void {
    const e = this.entries[this.head]!;
    this.keys.delete(e.key);
    this.head++;
  }

  /** Drops the consumed front of the array now and then, not on every eviction. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** First index (>= head) whose time is >= nano. */
  private lowerBound(nano: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.nano < nano) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index (>= head) whose time is > nano: an event goes after those of the same time. */
  private upperBound(nano: number): number {
    let lo = this.head;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid]!.nano <= nano) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
