/** `swarm manage` flags of the event history and the metrics listener. */
import { describe, expect, test } from 'bun:test';
import { planManage } from '../../../src/lib/manager/plan';
import { manageInput } from '../../helpers/manage-input';

describe('--events-history, --events-max-age, --metrics-addr', () => {
  test('defaults: 10,000 events, one hour, /metrics on the API listeners', () => {
    const plan = planManage(manageInput());
    expect(plan.events).toEqual({ maxEvents: 10_000, maxAgeMs: 3_600_000 });
    expect(plan.metricsListen).toBeUndefined();
  });

  test('values are read; 0 events keeps no history; ages beyond a timer are fine', () => {
    const plan = planManage(manageInput({ eventsHistory: 0, eventsMaxAge: '720h', metricsAddr: '127.0.0.1:9323' }));
    expect(plan.events).toEqual({ maxEvents: 0, maxAgeMs: 720 * 3_600_000 });
    expect(plan.metricsListen).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 9323 });
  });

  test('bad values are refused as usage errors', () => {
    expect(() => planManage(manageInput({ eventsHistory: -1 }))).toThrow('--events-history should be a number of events, 0 or more');
    expect(() => planManage(manageInput({ eventsMaxAge: '0' }))).toThrow('--events-max-age should be a positive duration');
    expect(() => planManage(manageInput({ eventsMaxAge: '60' }))).toThrow('invalid --events-max-age');
    expect(() => planManage(manageInput({ metricsAddr: 'http://x:1' }))).toThrow('unsupported protocol');
  });
});
