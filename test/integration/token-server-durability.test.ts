/**
 * The token server's data file and journal under kill -9: whatever a client was told `OK` (or got a
 * token for) is there after a restart, in every round; and many writes stay cheap.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';

const swarm = new SwarmBinary();
const work = mkdtempSync(join(tmpdir(), 'swarm-token-durability-'));
afterAll(() => {
  swarm.cleanup();
  rmSync(work, { recursive: true, force: true });
});

async function startServer(dataFile: string, port: number): Promise<RunningSwarm> {
  const s = swarm.start(['token-server', '-H', `127.0.0.1:${port}`, '--data-file', dataFile]);
  await waitFor('token server', async () => ((await fetch(`http://127.0.0.1:${port}/v1/clusters/none`).catch(() => undefined)) ? true : undefined), 10_000, 50);
  return s;
}

describe('token server durability', () => {
  test('kill -9 in the middle of writes loses no acknowledged cluster or entry (10 rounds)', async () => {
    const dataFile = join(work, 'tokens.json');
    const acked = new Map<string, Set<string>>();
    for (let round = 0; round < 10; round++) {
      const port = await freePort();
      const server = await startServer(dataFile, port);
      const base = `http://127.0.0.1:${port}/v1`;
      let stop = false;
      // Eight clients create clusters and register entries as fast as they can until the kill.
      const client = async (c: number) => {
        for (let i = 0; !stop; i++) {
          try {
            const r = await fetch(`${base}/clusters`, { method: 'POST' });
            if (r.status !== 200) continue;
            const token = (await r.text()).trim();
            acked.set(token, new Set());
            const entry = `10.${round}.${c}.${i % 250}:2375`;
            const reg = await fetch(`${base}/clusters/${token}?ttl=3600`, { method: 'POST', body: entry });
            if (reg.status === 200 && (await reg.text()) === 'OK') acked.get(token)!.add(entry);
          } catch {
            return; // the server is gone
          }
        }
      };
      const clients = Array.from({ length: 8 }, (_, c) => client(c));
      await Bun.sleep(150 + Math.random() * 300);
      await server.stop('SIGKILL');
      stop = true;
      await Promise.all(clients);

      const port2 = await freePort();
      const again = await startServer(dataFile, port2);
      const missing: string[] = [];
      for (const [token, entries] of acked) {
        const r = await fetch(`http://127.0.0.1:${port2}/v1/clusters/${token}`);
        if (r.status !== 200) {
          missing.push(`cluster ${token}`);
          continue;
        }
        const live = new Set((await r.json()) as string[]);
        for (const e of entries) if (!live.has(e)) missing.push(`${token} ${e}`);
      }
      await again.stop('SIGKILL');
      expect({ round, missing }).toEqual({ round, missing: [] });
    }
    expect(acked.size).toBeGreaterThan(100);
  }, 120_000);

  test('10,000 clusters one after another, each acknowledged, then all back after a restart', async () => {
    const dataFile = join(work, 'many.json');
    const port = await freePort();
    const server = await startServer(dataFile, port);
    const tokens: string[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/v1/clusters`, { method: 'POST' });
      expect(r.status).toBe(200);
      tokens.push((await r.text()).trim());
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`token server: 10,000 sequential creates in ${seconds.toFixed(1)} s`);
    await server.stop('SIGKILL');
    const port2 = await freePort();
    const again = await startServer(dataFile, port2);
    for (const t of [tokens[0]!, tokens[4999]!, tokens[9999]!]) expect((await fetch(`http://127.0.0.1:${port2}/v1/clusters/${t}`)).status).toBe(200);
    await again.stop();
  }, 600_000);
});
