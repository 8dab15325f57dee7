/**
 * One engine's events: the last MAX_EVENTS kept for `since` replays, and the clients following
 * `GET /events` (live, until `until`, filtered).
 */
import type { ServerResponse } from 'node:http';
import type { DockerEvent } from '../../src/lib/engine/docker-types';
import { eventMatches as clusterEventMatches } from '../../src/lib/api/system';
import { ApiError } from '../../src/lib/errors';
import { labelsMatch, parseFilters } from '../../src/lib/api/respond';
import { normalizeImageRef } from '../../src/lib/scheduler/reference';
import { checkFilterKeys } from './filters';

const MAX_EVENTS = 256;

interface SimEvent {
  timeNano: bigint;
  message: DockerEvent;
  json: string;
}

/** A parsed `filters`: what the manager's event filter decides, and what the engine decides its own way. */
interface EventFilter {
  common: Map<string, string[]>;
  labels: string[];
  images: string[] | undefined;
}

interface Subscriber {
  res: ServerResponse;
  filter: EventFilter;
  untilNano: bigint | undefined;
}

const EVENT_FILTERS = ['config', 'container', 'daemon', 'event', 'image', 'label', 'network', 'node', 'plugin', 'scope', 'secret', 'service', 'type', 'volume'];

function eventFilter(raw: string | null): EventFilter {
  const common = parseFilters(raw);
  checkFilterKeys(common, EVENT_FILTERS);
  const labels = common.get('label') ?? [];
  const images = common.get('image');
  common.delete('label');
  common.delete('image');
  return { common, labels, images };
}

/**
 * The manager's filter for type, event, container, network, volume and scope; the engine's own for
 * labels (dockerd ANDs them, the manager's stream ORs them) and images (compared normalized).
 */
function matches(ev: SimEvent, f: EventFilter): boolean {
  if (!clusterEventMatches(f.common, ev.message)) return false;
  const attrs = ev.message.Actor?.Attributes ?? {};
  if (!labelsMatch(attrs, f.labels)) return false;
  if (f.images) {
    const img = ev.message.Type === 'image' ? (ev.message.Actor?.ID ?? '') : (attrs.image ?? '');
    if (!f.images.some((i) => i === img || normalizeImageRef(i) === normalizeImageRef(img))) return false;
  }
  return true;
}

/**
 * Unix seconds ("1700000000", "1700000000.123456789") or RFC 3339, in exact nanoseconds: events of
 * one engine are a nanosecond apart, finer than the manager's parseEventTime (a double) resolves.
 */
export function parseEventTime(v: string | null): bigint | undefined {
  if (!v) return undefined;
  const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
  if (m) return BigInt(m[1] as string) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0') || '0');
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new ApiError(400, `invalid timestamp: ${v}`);
  return BigInt(ms) * 1_000_000n;
}

export class EventLog {
  private readonly events: SimEvent[] = [];
  private readonly subscribers = new Set<Subscriber>();
  private seq = 0n;

  /** @param onListeners called when a client starts or stops following (NEventsListener of /info). */
  constructor(private readonly onListeners: () => void) {}

  get listeners(): number {
    return this.subscribers.size;
  }

  emit(type: string, action: string, actorId: string, attrs: Record<string, string>, from?: string): void {
    const timeNano = BigInt(Date.now()) * 1_000_000n + (this.seq++ % 1_000_000n);
    const message: DockerEvent = {};
    if (type === 'container' || type === 'image') {
      message.status = action;
      message.id = actorId;
      if (from !== undefined) message.from = from;
    }
    message.Type = type;
    message.Action = action;
    message.Actor = { ID: actorId, Attributes: attrs };
    message.scope = 'local';
    message.time = Number(timeNano / 1_000_000_000n);
    // timeNano is written from the bigint: a double would round it.
    const json = `${JSON.stringify(message).slice(0, -1)},"timeNano":${timeNano}}\n`;
    const rec: SimEvent = { timeNano, message, json };
    this.events.push(rec);
    if (this.events.length > MAX_EVENTS) this.events.shift();
    for (const s of this.subscribers) {
      if (s.untilNano !== undefined && timeNano > s.untilNano) continue;
      if (matches(rec, s.filter)) s.res.write(json);
    }
  }

  /** GET /events: replays from `since`, then streams until `until` (or the client leaves). */
  subscribe(res: ServerResponse, q: URLSearchParams): void {
    const filter = eventFilter(q.get('filters'));
    const nowNano = BigInt(Date.now()) * 1_000_000n;
    const sinceNano = parseEventTime(q.get('since'));
    const untilNano = parseEventTime(q.get('until'));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    if (sinceNano !== undefined) {
      for (const ev of this.events) {
        if (ev.timeNano < sinceNano) continue;
        if (untilNano !== undefined && ev.timeNano > untilNano) continue;
        if (matches(ev, filter)) res.write(ev.json);
      }
    }
    if (untilNano !== undefined && untilNano <= nowNano) {
      res.end();
      return;
    }
    const sub: Subscriber = { res, filter, untilNano };
    this.subscribers.add(sub);
    this.onListeners();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = (): void => {
      if (timer) clearTimeout(timer);
      if (this.subscribers.delete(sub)) this.onListeners();
    };
    if (untilNano !== undefined) {
      timer = setTimeout(
        () => {
          done();
          res.end();
        },
        Number((untilNano - nowNano) / 1_000_000n),
      );
    }
    res.on('close', done);
  }

  /** Ends every stream (the engine goes away). */
  close(): void {
    for (const s of this.subscribers) s.res.end();
    this.subscribers.clear();
  }
}
