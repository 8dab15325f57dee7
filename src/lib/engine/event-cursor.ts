/**
 * Where one engine's /events stream got to, so that a stream opened again (it broke, the engine
 * restarted, the engine was Unhealthy) asks the engine for what it missed (`since`) and drops what
 * it had already seen. Pure: no sockets, no clock.
 */
import type { DockerEvent } from './docker-types';

/** An event's time in nanoseconds (`timeNano`, else `time` in seconds; 0 when it has neither). */
export function eventNano(ev: DockerEvent): number {
  if (typeof ev.timeNano === 'number' && Number.isFinite(ev.timeNano)) return ev.timeNano;
  if (typeof ev.time === 'number' && Number.isFinite(ev.time)) return ev.time * 1e9;
  return 0;
}

/** What makes an event the same event when an engine sends it twice: (time, timeNano, id, action). */
export function eventKey(ev: DockerEvent): string {
  const id = ev.Actor?.ID ?? ev.id ?? '';
  const action = ev.Action ?? ev.status ?? '';
  return `${ev.time ?? ''}|${ev.timeNano ?? ''}|${id}|${action}`;
}

/** `since`/`until` as the Docker API takes them: `<seconds>.<nanoseconds, 9 digits>`. */
export function formatEventTime(nano: number): string {
  // As a BigInt: the double's exact value, whose digits a double division would round.
  const n = BigInt(Math.max(0, Math.floor(nano)));
  return `${n / 1_000_000_000n}.${String(n % 1_000_000_000n).padStart(9, '0')}`;
}

/** How many recent event keys are kept to recognise a replayed event. */
const RECENT_KEYS = 1024;

export class EventCursor {
  /** The newest event time seen (ns); before any event, where the stream should start from. */
  private newest: number;
  private readonly recent = new Set<string>();
  private readonly order: string[] = [];

  /** `startNano`: the first stream asks from here (0: from now, no history). */
  constructor(startNano = 0) {
    this.newest = startNano;
  }

  /**
   * The `since` to open the stream with: the newest event seen. timeNano (~1.7e18) does not fit a
   * double exactly, so it is taken to the microsecond below; what that replays twice is dropped by
   * `accept`.
   */
  since(): string | undefined {
    if (this.newest <= 0) return undefined;
    return formatEventTime(Math.floor(this.newest / 1000) * 1000 - 1000);
  }

  /** True for an event not seen before (and remembers it); false for a replayed one. */
  accept(ev: DockerEvent): boolean {
    const key = eventKey(ev);
    if (this.recent.has(key)) return false;
    this.recent.add(key);
    this.order.push(key);
    if (this.order.length > RECENT_KEYS) this.recent.delete(this.order.shift()!);
    const nano = eventNano(ev);
    if (nano > this.newest) this.newest = nano;
    return true;
  }
}
