import { describe, expect, test } from 'bun:test';
import { parseDuration, formatDuration } from '../../src/lib/duration';
import { planJoin, type JoinInput } from '../../src/lib/join';
import { parseDiscoveryOpts } from '../../src/lib/cli/flags';
import { parseListenAddress } from '../../src/lib/listen';

const base: JoinInput = { discoveryUrl: 'token://abc', advertise: '10.0.0.1:2375', heartbeat: '60s', ttl: '180s', delay: '0s', options: {} };

describe('Go durations', () => {
  test('parse the forms v1 flags take', () => {
    expect(parseDuration('60s')).toBe(60_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('0')).toBe(0);
  });
  test('reject numbers without a unit and garbage', () => {
    expect(() => parseDuration('60', '--heartbeat')).toThrow('invalid --heartbeat: time: missing unit in duration 60');
    expect(() => parseDuration('10x')).toThrow('time: unknown unit x in duration 10x');
    expect(() => parseDuration('1 m')).toThrow('time: unknown unit  m in duration 1 m');
    expect(() => parseDuration('soon', '--timeout')).toThrow('invalid --timeout: time: invalid duration soon');
  });
  test('print like Go', () => {
    expect(formatDuration(60_000)).toBe('1m0s');
    expect(formatDuration(3_000)).toBe('3s');
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(3_723_000)).toBe('1h2m3s');
  });
});

describe('join validation (v1 rules and messages)', () => {
  test('a valid plan', () => {
    expect(planJoin({ ...base, heartbeat: '1s', ttl: '3s', delay: '2s' })).toMatchObject({ heartbeatMs: 1000, ttlMs: 3000, delayMs: 2000 });
  });
  test('advertise is mandatory and must be host:port', () => {
    expect(() => planJoin({ ...base, advertise: undefined })).toThrow('missing mandatory --advertise flag');
    for (const bad of ['10.0.0.1', '10.0.0.1:0', 'host:port', ':2375']) {
      expect(() => planJoin({ ...base, advertise: bad })).toThrow('--advertise should be of the form ip:port or hostname:port');
    }
    expect(planJoin({ ...base, advertise: 'node-1.lan:2375' }).advertise).toBe('node-1.lan:2375');
    expect(planJoin({ ...base, advertise: '[fe80::1]:2375' }).advertise).toBe('[fe80::1]:2375');
  });
  test('heartbeat at least one second, ttl strictly above it', () => {
    expect(() => planJoin({ ...base, heartbeat: '999ms' })).toThrow('--heartbeat should be at least one second');
    expect(() => planJoin({ ...base, heartbeat: '10s', ttl: '10s' })).toThrow('--ttl must be strictly superior to the heartbeat value');
  });
  test('delay not negative', () => {
    expect(() => planJoin({ ...base, delay: '-1s' })).toThrow('--delay should not be a negative number');
  });
  test('discovery options must be key=value', () => {
    expect(parseDiscoveryOpts(['kv.path=x/y', 'a=b=c'])).toEqual({ 'kv.path': 'x/y', a: 'b=c' });
    expect(() => parseDiscoveryOpts(['novalue'])).toThrow('--discovery-opt must contain key=value strings');
    expect(() => parseDiscoveryOpts(['=v'])).toThrow('--discovery-opt must contain key=value strings');
  });
});

describe('listen addresses', () => {
  test('tcp forms and unix sockets', () => {
    expect(parseListenAddress('tcp://0.0.0.0:2375')).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 2375 });
    expect(parseListenAddress('127.0.0.1:3375')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 3375 });
    expect(parseListenAddress(':2375')).toEqual({ kind: 'tcp', host: '0.0.0.0', port: 2375 });
    expect(parseListenAddress('tcp://[::1]:2375')).toEqual({ kind: 'tcp', host: '::1', port: 2375 });
    expect(parseListenAddress('unix:///var/run/swarm.sock')).toEqual({ kind: 'unix', path: '/var/run/swarm.sock' });
  });
  test('bad ones are errors', () => {
    expect(() => parseListenAddress('udp://1.2.3.4:5')).toThrow('unsupported protocol: "udp"');
    expect(() => parseListenAddress('1.2.3.4')).toThrow('expected [tcp://]host:port');
    expect(() => parseListenAddress('unix://')).toThrow('needs a socket path');
  });
});
