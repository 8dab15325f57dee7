/** The manager's event history (event-log.ts) and an engine's stream cursor (event-cursor.ts). */
import { describe, expect, test } from 'bun:test';
import { EventCursor, eventKey, formatEventTime } from '../../../src/lib/engine/event-cursor';
import { EventLog, type LoggableEvent } from '../../../src/lib/manager/event-log';

const NOW_MS = 1_700_000_000_000;
const S = 1e9;
const BASE = NOW_MS * 1e6 - 600 * S; // ten minutes before "now"

function ev(node: string, offsetS: number, action: string, id = 'c1', extraNano = 0): LoggableEvent {
  const timeNano = BASE + offsetS * S + extraNano;
  return { Type: 'container', Action: action, status: action, id, Actor: { ID: id, Attributes: { name: id } }, time: Math.floor(timeNano / S), timeNano, node: { Id: node } };
}

function log(maxEvents = 100, maxAgeMs = 3_600_000, now = () => NOW_MS) {
  return new EventLog<LoggableEvent>({ maxEvents, maxAgeMs }, now);
}

const describeEv = (e: LoggableEvent) => `${e.node?.Id}:${e.Action}@${(e.timeNano! - BASE) / S}`;

describe('EventLog', () => {
  test('events of several engines come out in time order, a late caught-up one in its place', () => {
    const l = log();
    expect(l.append(ev('a', 1, 'create'))).toBe('added');
    expect(l.append(ev('b', 2, 'create', 'c2'))).toBe('added');
    expect(l.append(ev('a', 4, 'start'))).toBe('added');
    // Engine b reconnected: what it caught up (time 3) arrives after a's event of time 4.
    expect(l.append(ev('b', 3, 'start', 'c2'))).toBe('added');
    expect(l.select(0).map(describeEv)).toEqual(['a:create@1', 'b:create@2', 'b:start@3', 'a:start@4']);
  });

  test('events of the same time keep the order they arrived in', () => {
    const l = log();
    l.append(ev('a', 1, 'kill'));
    l.append(ev('b', 1, 'kill', 'c2'));
    l.append(ev('a', 1, 'die'));
    expect(l.select(0).map((e) => `${e.node?.Id}:${e.Action}`)).toEqual(['a:kill', 'b:kill', 'a:die']);
  });

  test('since and until select inclusively (timeNano as a double: to ~256 ns)', () => {
    const l = log();
    for (let i = 1; i <= 5; i++) l.append(ev('a', i, `a${i}`));
    expect(l.select(BASE + 2 * S, BASE + 4 * S).map((e) => e.Action)).toEqual(['a2', 'a3', 'a4']);
    expect(l.select(BASE + 2 * S + 1000, BASE + 4 * S - 1000).map((e) => e.Action)).toEqual(['a3']);
    expect(l.select(BASE + 6 * S)).toEqual([]);
    expect(l.select(0, BASE).map((e) => e.Action)).toEqual([]);
  });

  test('an event held already (same node, time, timeNano, id, action) is not held twice', () => {
    const l = log();
    expect(l.append(ev('a', 1, 'start'))).toBe('added');
    expect(l.append(ev('a', 1, 'start'))).toBe('duplicate');
    // Same moment, another engine, or another action, or another container: different events.
    expect(l.append(ev('b', 1, 'start'))).toBe('added');
    expect(l.append(ev('a', 1, 'die'))).toBe('added');
    expect(l.append(ev('a', 1, 'start', 'c9'))).toBe('added');
    expect(l.size).toBe(4);
  });

  test('bounded by count: the oldest go first; an event older than all of a full log is not kept', () => {
    const l = log(3);
    for (let i = 1; i <= 5; i++) l.append(ev('a', i, `a${i}`));
    expect(l.size).toBe(3);
    expect(l.select(0).map((e) => e.Action)).toEqual(['a3', 'a4', 'a5']);
    expect(l.append(ev('b', 2, 'late'))).toBe('expired');
    expect(l.append(ev('b', 4, 'between'))).toBe('added');
    expect(l.select(0).map((e) => e.Action)).toEqual(['a4', 'between', 'a5']);
    // An evicted event may be held again (its key went with it).
    expect(l.append(ev('a', 1, 'a1'))).toBe('expired');
  });

  test('bounded by age: events older than max age are dropped, also as time passes', () => {
    let now = NOW_MS;
    const l = log(100, 5 * 60_000, () => now);
    expect(l.append(ev('a', 0, 'too-old'))).toBe('expired'); // 10 minutes old
    l.append(ev('a', 400, 'older')); // 200 s before now
    l.append(ev('a', 500, 'recent')); // 100 s before now
    expect(l.select(0).map((e) => e.Action)).toEqual(['older', 'recent']);
    now += 150_000; // 350 s and 250 s old
    expect(l.select(0).map((e) => e.Action)).toEqual(['recent']);
    expect(l.size).toBe(1);
  });

  test('0 events of history keeps nothing', () => {
    const l = log(0);
    expect(l.append(ev('a', 1, 'start'))).toBe('expired');
    expect(l.select(0)).toEqual([]);
  });

  test('many events through a small log: the front is compacted, order and bounds hold', () => {
    const l = log(100);
    for (let i = 0; i < 5000; i++) l.append(ev(i % 2 ? 'a' : 'b', i / 100, `e${i}`, `c${i}`));
    expect(l.size).toBe(100);
    const got = l.select(0).map((e) => e.Action);
    expect(got[0]).toBe('e4900');
    expect(got[99]).toBe('e4999');
  });
});

describe('EventCursor', () => {
  test('before any event, the first stream starts from the given time (or from now)', () => {
    expect(new EventCursor().since()).toBeUndefined();
    const since = new EventCursor(1_700_000_000_123_456_000).since()!;
    expect(since).toMatch(/^1700000000\.12345\d{4}$/);
    expect(Number(since.split('.')[1])).toBeLessThan(123_456_000);
  });

  test('since is the newest event seen, to the microsecond below; replayed events are dropped', () => {
    const c = new EventCursor(BASE);
    const a = ev('n', 1, 'create', 'c1', 123_456_789 - 1_000_000 * 0);
    const b = ev('n', 2, 'start', 'c1', 5_000);
    expect(c.accept(a)).toBe(true);
    expect(c.accept(b)).toBe(true);
    expect(c.since()).toBe(formatEventTime(b.timeNano! - 1000));
    // The engine replays from `since`: b again, then what the manager missed.
    expect(c.accept({ ...b })).toBe(false);
    const missed = ev('n', 3, 'die', 'c1');
    expect(c.accept(missed)).toBe(true);
    expect(c.accept(a)).toBe(false);
    expect(c.since()).toBe(formatEventTime(missed.timeNano! - 1000));
  });

  test('an older event not seen before is taken (out of order), without moving since back', () => {
    const c = new EventCursor();
    c.accept(ev('n', 5, 'start'));
    const before = c.since();
    expect(c.accept(ev('n', 4, 'create'))).toBe(true);
    expect(c.since()).toBe(before);
  });

  test('event identity is (time, timeNano, id, action)', () => {
    const e = ev('n', 1, 'start');
    expect(eventKey(e)).toBe(`${e.time}|${e.timeNano}|c1|start`);
    expect(eventKey({ status: 'untag', id: 'sha256:x', time: 5 })).toBe('5||sha256:x|untag');
  });

  test('times are written as the Docker API reads them', () => {
    expect(formatEventTime(1_700_000_000_000_000_001)).toMatch(/^1700000000\.\d{9}$/);
    expect(formatEventTime(5 * S + 42)).toBe('5.000000042');
    expect(formatEventTime(0)).toBe('0.000000000');
  });
});
