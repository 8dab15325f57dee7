/** `docker info` and the scheduler agree on a node's capacity under overcommit (v1's integer percent). */
import { expect, test } from 'bun:test';
import { Engine } from '../../../src/lib/engine/engine';
import { withOvercommit } from '../../../src/lib/scheduler/strategies/strategy';

test('an 8 GiB, 2-CPU engine at swarm.overcommit=0.29: info shows what the scheduler uses (28 %, not 29 %)', () => {
  const hooks = { onTransition: () => undefined, onEvent: () => undefined, engineWithId: () => undefined };
  const e = new Engine('127.0.0.1:1', { refreshMinMs: 1000, refreshMaxMs: 2000, failureRetry: 3, overcommit: 0.29 }, hooks);
  e.rawMemory = 8 * 1024 ** 3;
  e.rawCpus = 2;
  expect(e.memory).toBe(withOvercommit(8 * 1024 ** 3, 0.29));
  expect(e.memory).toBe(8 * 1024 ** 3 + Math.trunc((8 * 1024 ** 3 * 28) / 100));
  expect(e.cpus).toBe(withOvercommit(2, 0.29));
});
