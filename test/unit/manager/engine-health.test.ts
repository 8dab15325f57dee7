import { describe, expect, test } from 'bun:test';
import { EngineHealth, isConnectionError } from '../../../src/lib/engine/health';
import { negotiateApiVersion, stripVersionPrefix, compareApiVersions } from '../../../src/lib/engine/version';
import { JsonStreamParser } from '../../../src/lib/engine/jsonstream';

describe('EngineHealth state machine (spec §4)', () => {
  test('Pending → Healthy on validation emits engine_connect', () => {
    const h = new EngineHealth(3);
    expect(h.state).toBe('pending');
    expect(h.indicator()).toBe(0);
    expect(h.validated()).toBe('connect');
    expect(h.state).toBe('healthy');
    expect(h.indicator()).toBe(100);
  });

  test('a failed validation stays Pending with the error and counts for back-off', () => {
    const h = new EngineHealth(3);
    h.validationFailed('connection refused');
    expect(h.state).toBe('pending');
    expect(h.lastError).toBe('connection refused');
    expect(h.failureCount).toBe(1);
    // 2^1 s + base must pass before the next attempt
    expect(h.pendingRetryDue(10_000, 9_000, 1_000)).toBe(false);
    expect(h.pendingRetryDue(13_000, 10_000, 1_000)).toBe(true);
  });

  test('only connection errors count; the threshold flags Unhealthy once (engine_disconnect)', () => {
    const h = new EngineHealth(3);
    h.validated();
    expect(h.failure('No such container', false)).toBeNull();
    expect(h.failureCount).toBe(0);
    expect(h.failure('connect ECONNREFUSED', true)).toBeNull();
    expect(h.indicator()).toBe(67);
    expect(h.failure('connect ECONNREFUSED', true)).toBeNull();
    expect(h.indicator()).toBe(34);
    expect(h.failure('connect ECONNREFUSED', true)).toBe('disconnect');
    expect(h.state).toBe('unhealthy');
    expect(h.indicator()).toBe(0);
    expect(h.failure('connect ECONNREFUSED', true)).toBeNull();
    expect(h.failureCount).toBe(4);
  });

  test('a success brings an Unhealthy engine back (engine_reconnect) and resets the count', () => {
    const h = new EngineHealth(2);
    h.validated();
    h.failure('x', true);
    h.failure('x', true);
    expect(h.state).toBe('unhealthy');
    expect(h.success()).toBe('reconnect');
    expect(h.state).toBe('healthy');
    expect(h.failureCount).toBe(0);
    expect(h.success()).toBeNull();
  });

  test('a success while healthy resets a partial count silently', () => {
    const h = new EngineHealth(3);
    h.validated();
    h.failure('x', true);
    expect(h.success()).toBeNull();
    expect(h.failureCount).toBe(0);
  });

  test('Disconnected is final', () => {
    const h = new EngineHealth(3);
    h.validated();
    expect(h.disconnect()).toBe('disconnect');
    expect(h.state).toBe('disconnected');
    expect(h.validated()).toBeNull();
    expect(h.success()).toBeNull();
    expect(h.state).toBe('disconnected');
  });

  test('an ID change sends a healthy engine back to Pending', () => {
    const h = new EngineHealth(3);
    h.validated();
    expect(h.backToPending('shows up with another ID')).toBe('disconnect');
    expect(h.state).toBe('pending');
  });

  test('refresh delay: min + random spread, backed off after the threshold', () => {
    const h = new EngineHealth(3);
    h.validated();
    expect(h.refreshDelay(30_000, 60_000, 0)).toBe(30_000);
    expect(h.refreshDelay(30_000, 60_000, 0.5)).toBe(45_000);
    for (let i = 0; i < 5; i++) h.failure('x', true);
    // backoff = 5 − 3 = 2 → min × 3
    expect(h.refreshDelay(30_000, 60_000, 0)).toBe(90_000);
  });

  test('connection errors are recognised by code and message', () => {
    expect(isConnectionError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isConnectionError(new Error('connect EHOSTUNREACH 10.0.0.1:2375'))).toBe(true);
    expect(isConnectionError(new Error('No such container: foo'))).toBe(false);
  });
});

describe('API versions', () => {
  test('talk to each engine at the lower of its version and ours', () => {
    expect(negotiateApiVersion('1.41')).toBe('1.41');
    expect(negotiateApiVersion('1.43')).toBe('1.41');
    expect(negotiateApiVersion('1.30')).toBe('1.30');
    expect(negotiateApiVersion(undefined)).toBe('1.24');
    expect(compareApiVersions('1.9', '1.10')).toBe(-1);
  });
  test('strip /v1.NN prefixes', () => {
    expect(stripVersionPrefix('/v1.41/containers/json')).toEqual({ version: '1.41', path: '/containers/json' });
    expect(stripVersionPrefix('/containers/json')).toEqual({ path: '/containers/json' });
  });
});

describe('JSON stream parser', () => {
  test('splits back-to-back objects across chunk boundaries, braces inside strings included', () => {
    const p = new JsonStreamParser();
    expect(p.push('{"a":1}{"b":"}{"')).toEqual([{ a: 1 }]);
    expect(p.push('}\n{"c":[1,{"d":2}]}\r\n{"e"')).toEqual([{ b: '}{' }, { c: [1, { d: 2 }] }]);
    expect(p.push(':"\\"}"}')).toEqual([{ e: '"}' }]);
  });
});
