/**
 * Large bodies stream through the manager: `docker load` of a 300 MB image fanned out to two real
 * engines, and `docker save` read by a slow client, keep the manager's memory at a few chunks.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, copyFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { dockerCli, run, testbedDown, testbedUp, type TestbedHost } from '../helpers/testbed';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let hosts: TestbedHost[] = [];
let work = '';
let tarball = '';

function rssMb(): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${manager.proc.pid}/status`, 'utf8'))![1]) / 1024;
}

/** Runs `p` while sampling the manager's RSS; returns its result and the peak. */
async function withPeakRss<T>(p: Promise<T>): Promise<{ result: T; peak: number }> {
  let peak = rssMb();
  let done = false;
  const sampler = (async () => {
    while (!done) {
      peak = Math.max(peak, rssMb());
      await Bun.sleep(100);
    }
  })();
  const result = await p;
  done = true;
  await sampler;
  return { result, peak };
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-uploads-it-'));
  hosts = await testbedUp(2, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  // A 300 MB image made on host 1 and saved to a tarball (incompressible data).
  const root = join(work, 'root');
  mkdirSync(join(root, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  symlinkSync('busybox', join(root, 'bin/sh'));
  writeFileSync(join(root, 'big.bin'), crypto.getRandomValues(new Uint8Array(64 * 1024 * 1024)));
  for (let i = 1; i < 5; i++) copyFileSync(join(root, 'big.bin'), join(root, `big${i}.bin`));
  const imp = await run(['sh', '-c', `tar -C ${root} -c . | docker -H tcp://${hosts[0]!.addr} import - bigload:1 && docker -H tcp://${hosts[0]!.addr} save bigload:1 -o ${work}/big.tar && docker -H tcp://${hosts[0]!.addr} rmi bigload:1`], { timeoutMs: 120_000 });
  if (imp.code !== 0) throw new Error(imp.stderr);
  tarball = join(work, 'big.tar');
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start(['manage', '-H', host, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitFor('2 healthy nodes', async () => ((await dockerCli(host, ['info'])).stdout.match(/Status: Healthy/g)?.length === 2 ? true : undefined), 60_000, 300);
}, 300_000);

afterAll(async () => {
  await manager?.stop();
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

describe('uploads and downloads stream', () => {
  test('docker load of a 300 MB image reaches both engines; the manager grows by far less than the image', async () => {
    expect(statSync(tarball).size).toBeGreaterThan(300e6);
    const before = rssMb();
    const { result, peak } = await withPeakRss(dockerCli(host, ['load', '-i', tarball], { timeoutMs: 240_000 }));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('node-1: Loaded image: bigload:1');
    expect(result.stdout).toContain('node-2: Loaded image: bigload:1');
    for (const h of hosts) expect((await dockerCli(h.addr, ['images', '-q', 'bigload:1'])).stdout.trim()).not.toBe('');
    expect(peak - before).toBeLessThan(150);
  }, 300_000);

  test('docker save read slowly: the manager does not buffer what the client has not taken', async () => {
    const before = rssMb();
    // A client that reads 1 MB every 100 ms: the save (300 MB) would take 30 s; stop after 5 s.
    const res = await fetch(`${host.replace('tcp://', 'http://')}/images/get?names=bigload:1`);
    const reader = res.body!.getReader();
    let got = 0;
    const { peak } = await withPeakRss(
      (async () => {
        const end = Date.now() + 5000;
        while (Date.now() < end) {
          const { value, done } = await reader.read();
          if (done) break;
          got += value.length;
          if (got > 1024 * 1024) await Bun.sleep(100);
        }
      })(),
    );
    await reader.cancel();
    expect(got).toBeLessThan(200e6);
    expect(peak - before).toBeLessThan(150);
  }, 60_000);
});
