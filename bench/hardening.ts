/**
 * What one hostile request costs the manager: each attack is sent to a manager over one real engine
 * while a second client pings `/_ping` every 50 ms; prints the attack's duration, the worst ping wait
 * and the manager's peak RSS. Run it against two builds to compare them:
 *
 *   scripts/testbed.sh up 1
 *   node_modules/.bin/bun bench/hardening.ts dist/swarm 10.99.0.11:2375
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';

const [bin = 'dist/swarm', engine = '10.99.0.11:2375'] = process.argv.slice(2);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const mgr = spawn(bin, ['manage', '-H', `127.0.0.1:${port}`, '--engine-refresh-min-interval', '2s', '--engine-refresh-max-interval', '3s', `nodes://${engine}`], { stdio: ['ignore', 'ignore', 'ignore'] });
const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${mgr.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function until(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond().catch(() => false)) return;
    await Bun.sleep(100);
  }
  throw new Error('timed out');
}
await until(async () => ((await (await fetch(`${base}/info`)).json()) as { SystemStatus?: [string, string][] }).SystemStatus?.some(([k, v]) => k.includes('Status') && v === 'Healthy') ?? false, 60_000);

/** Runs `attack` while pinging; returns its duration, the worst ping and the peak RSS. */
async function measure(name: string, attack: () => Promise<unknown>): Promise<void> {
  let worst = 0;
  let peak = rss();
  let stop = false;
  const pinger = (async () => {
    while (!stop) {
      const t0 = performance.now();
      await fetch(`${base}/_ping`, { signal: AbortSignal.timeout(120_000) }).catch(() => undefined);
      worst = Math.max(worst, performance.now() - t0);
      peak = Math.max(peak, rss());
      await Bun.sleep(50);
    }
  })();
  const t0 = performance.now();
  let outcome = 'done';
  try {
    await Promise.race([attack(), Bun.sleep(180_000).then(() => (outcome = 'gave up after 180 s'))]);
  } catch (err) {
    outcome = `error: ${(err as Error).message.slice(0, 60)}`;
  }
  const took = performance.now() - t0;
  await Bun.sleep(300);
  stop = true;
  await pinger;
  console.log(`${name.padEnd(58)} ${(took / 1000).toFixed(2).padStart(7)} s  worst /_ping ${(worst / 1000).toFixed(2).padStart(6)} s  peak RSS ${peak.toFixed(0).padStart(5)} MB  ${outcome}  RSS after ${rss().toFixed(0)} MB`);
}

const json = { 'Content-Type': 'application/json' };
const a40 = 'a'.repeat(40);
// A container named a×40-1, created on the engine itself (the manager learns it from the event).
await fetch(`http://${engine}/containers/create?name=${a40}-1`, { method: 'POST', headers: json, body: JSON.stringify({ Image: 'busybox', Cmd: ['true'] }) });
await Bun.sleep(1500);

await measure('1. ps filter name=^(a+)+$ over a container a×40-1', async () => {
  await (await fetch(`${base}/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: ['^(a+)+$'] }))}`)).text();
});
await measure('1. create with affinity:container!=/^(a+)+$/', async () => {
  const r = await fetch(`${base}/containers/create?name=redos-probe`, { method: 'POST', headers: json, body: JSON.stringify({ Image: 'busybox', Cmd: ['true'], Env: ['affinity:container!=/^(a+)+$/'] }) });
  await r.text();
});
await measure('2. 100 MB of "[" on /containers/create', async () => {
  const chunk = new TextEncoder().encode('['.repeat(1024 * 1024));
  const body = new ReadableStream({
    start(c) {
      for (let i = 0; i < 100; i++) c.enqueue(chunk);
      c.close();
    },
  });
  await (await fetch(`${base}/containers/create`, { method: 'POST', headers: json, body }).catch((e: Error) => new Response(e.message))).text();
});
await measure('3. container with a 32 MB label created on the engine', async () => {
  const r = await fetch(`http://${engine}/containers/create?name=biglabel`, { method: 'POST', headers: json, body: JSON.stringify({ Image: 'busybox', Cmd: ['true'], Labels: { big: 'x'.repeat(32 * 1024 * 1024) } }) });
  await r.text();
  await Bun.sleep(5000); // the manager parses the create event meanwhile
});
await measure('4. 5,000 connections with a body that never ends', async () => {
  const held: Socket[] = [];
  for (let i = 0; i < 5000; i++) {
    const s = connect(port, '127.0.0.1', () => s.write('POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Im'));
    s.on('error', () => undefined);
    held.push(s);
  }
  await Bun.sleep(3000);
  const info = await fetch(`${base}/containers/json?all=1`, { signal: AbortSignal.timeout(20_000) }).then((r) => r.status).catch((e: Error) => e.message);
  console.log(`   docker ps through the manager while they are open: ${info}; connections still open after 3 s: ${held.filter((s) => !s.destroyed && s.readyState === 'open').length}`);
  for (const s of held) s.destroy();
});

for (const name of [`${a40}-1`, 'biglabel', 'redos-probe']) await fetch(`http://${engine}/containers/${name}?force=1`, { method: 'DELETE' }).catch(() => undefined);
mgr.kill('SIGKILL');
process.exit(0);
