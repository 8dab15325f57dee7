/** `docker info` and the scheduler agree on a node's capacity under overcommit (v1's integer percent). */
import { expect, test } from 'bun:test';
import { Engine } from '../../../src/lib/engine/engine';
import { setLogSink } from '../../../src/lib/log';
import { withOvercommit } from '../../../src/lib/scheduler/resources';
import { FakeEngine } from './fake-engine';

test('an 8 GiB, 2-CPU engine at swarm.overcommit=0.29: info shows what the scheduler uses (28 %, not 29 %)', async () => {
  setLogSink(() => undefined);
  const fake = new FakeEngine('node-1', 'AAAA', 2, 8 * 1024 ** 3);
  const addr = await fake.start();
  const hooks = { onTransition: () => undefined, onEvent: () => undefined, engineWithId: () => undefined };
  const e = new Engine(addr, { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0.29 }, hooks);
  try {
    expect(await e.validate()).toBe(true);
    expect(e.rawMemory).toBe(8 * 1024 ** 3);
    expect(e.memory).toBe(withOvercommit(8 * 1024 ** 3, 0.29));
    expect(e.memory).toBe(8 * 1024 ** 3 + Math.trunc((8 * 1024 ** 3 * 28) / 100));
    expect(e.cpus).toBe(withOvercommit(2, 0.29));
  } finally {
    e.stop();
    await fake.stop();
  }
});
