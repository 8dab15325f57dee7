import { describe, expect, test } from 'bun:test';
import { EngineHealth, isConnectionError } from '../../../src/lib/engine/health';
import { EngineHttpError, TransportError, transportError } from '../../../src/lib/engine/http';
import { clusterApiVersion, compareApiVersions, MAX_API_VERSION, negotiateApiVersion, refusedClientVersion, stripVersionPrefix } from '../../../src/lib/engine/version';
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

  test('connection errors are the transport\'s connect, timeout and reset failures', () => {
    const plain = { host: '10.0.0.1', port: 2375 };
    const typed = (code: string, message = 'x') => transportError(Object.assign(new Error(message), { code }), plain);
    expect(isConnectionError(typed('ECONNREFUSED'))).toBe(true);
    expect(isConnectionError(typed('EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.1:2375'))).toBe(true);
    expect(isConnectionError(typed('ECONNRESET', 'socket hang up'))).toBe(true);
    expect(isConnectionError(typed('ETIMEDOUT'))).toBe(true);
    expect(isConnectionError(new TransportError('reset', 'events stream closed by the engine'))).toBe(true);
    // Not a reachability problem: the engine answered (HTTP error, garbage) or the handshake failed.
    expect(isConnectionError(new EngineHttpError(404, 'No such container: foo'))).toBe(false);
    expect(isConnectionError(typed('HPE_INVALID_CONSTANT', 'Parse Error'))).toBe(false);
    expect(isConnectionError(transportError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }), { ...plain, tls: { verify: true } }))).toBe(false);
    // Decided on the type, not on words in a message.
    expect(isConnectionError(new Error('connect ECONNREFUSED 10.0.0.1:2375'))).toBe(false);
  });
});

describe('API versions', () => {
  const version = (max: unknown, min?: unknown) => {
    const r = negotiateApiVersion(max, min);
    return r.ok ? r.version : `error: ${r.error}`;
  };
  test('each engine is spoken to at the lower of its version and the newest the manager reads', () => {
    expect(version('1.41', '1.12')).toBe('1.41'); // dockerd 20.10
    expect(version('1.45', '1.24')).toBe('1.45'); // dockerd 26
    expect(version('1.45', '1.44')).toBe('1.45'); // dockerd 26 with DOCKER_MIN_API_VERSION=1.44
    expect(version('1.52', '1.44')).toBe('1.45'); // Docker Engine 29
    expect(version('1.30')).toBe('1.30'); // no MinAPIVersion: accepts everything up to its own
    expect(compareApiVersions('1.9', '1.10')).toBe(-1);
  });
  test('engines outside the range stay out, with the versions that would work', () => {
    expect(version('1.60', '1.50')).toBe('error: engine requires API 1.50 or later (it speaks 1.50 to 1.60) but this manager speaks API 1.24 to 1.45; use an engine that still accepts API 1.45 or older');
    expect(version('1.23')).toBe('error: engine API 1.23 is too old: this manager speaks API 1.24 to 1.45; upgrade the engine to one that speaks API 1.24 or later');
    expect(version(undefined)).toContain('engine reports no usable API version');
    expect(version('abc')).toContain('engine reports no usable API version');
  });
  test('the cluster advertises the oldest version its engines are spoken to', () => {
    expect(clusterApiVersion([])).toBe(MAX_API_VERSION);
    expect(clusterApiVersion(['1.45', '1.41'])).toBe('1.41');
    expect(clusterApiVersion(['1.45', '1.45'])).toBe('1.45');
  });
  test('client versions outside the served range are refused as dockerd refuses them', () => {
    expect(refusedClientVersion('1.41')).toBeUndefined();
    expect(refusedClientVersion('1.45')).toBeUndefined();
    expect(refusedClientVersion(undefined)).toBeUndefined();
    expect(refusedClientVersion('1.46')).toBe('client version 1.46 is too new. Maximum supported API version is 1.45');
    expect(refusedClientVersion('1.12')).toStartWith('client version 1.12 is too old. Minimum supported API version is 1.24');
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
