/**
 * No single request may freeze, bloat or hijack the manager: the compiled manager, attacked on
 * loopback, keeps answering `/_ping` within a second and refuses what it must with a clear status.
 * The manager has no reachable engine: every check here is decided before any engine is asked.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';

const swarm = new SwarmBinary();
let manager: RunningSwarm;
let port = 0;
let base = '';

beforeAll(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  manager = swarm.start([
    'manage', '-H', `127.0.0.1:${port}`, '--api-body-timeout', '1s', '--api-max-connections-per-client', '64',
    `nodes://127.0.0.1:${await freePort()}`,
  ]);
  await waitFor('manager', async () => ((await fetch(`${base}/_ping`).catch(() => undefined))?.ok ? true : undefined), 10_000, 50);
});

afterAll(async () => {
  await manager?.stop();
  swarm.cleanup();
});

/** Milliseconds `/_ping` takes to answer now. */
async function pingMs(): Promise<number> {
  const t0 = performance.now();
  const r = await fetch(`${base}/_ping`, { signal: AbortSignal.timeout(5000) });
  expect(await r.text()).toBe('OK');
  return performance.now() - t0;
}

function rssMb(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${manager.proc.pid}/status`, 'utf8'));
  return Number(m![1]) / 1024;
}

/** A raw HTTP exchange: writes `head` (and optional body), returns what came back when the server closed. */
function raw(head: string, opts: { body?: string; keepOpenMs?: number } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(head);
      if (opts.body) s.write(opts.body);
    });
    let buf = '';
    s.on('data', (d) => (buf += d.toString()));
    s.on('close', () => resolve(buf));
    s.on('error', () => resolve(buf));
    setTimeout(() => s.destroy(), opts.keepOpenMs ?? 10_000);
  });
}

describe('bodies', () => {
  test('100 MB of "[" on /containers/create: 413, memory stays low, /_ping keeps answering', async () => {
    const before = rssMb();
    const chunk = '['.repeat(1024 * 1024);
    const big = new ReadableStream({
      start(c) {
        for (let i = 0; i < 100; i++) c.enqueue(new TextEncoder().encode(chunk));
        c.close();
      },
    });
    const sending = fetch(`${base}/containers/create`, { method: 'POST', body: big, headers: { 'Content-Type': 'application/json' } }).catch((e: Error) => e);
    expect(await pingMs()).toBeLessThan(1000);
    const r = await sending;
    if (!(r instanceof Error)) {
      expect(r.status).toBe(413);
      expect(((await r.json()) as { message: string }).message).toContain('request body is larger than 16777216 bytes');
    }
    expect(await pingMs()).toBeLessThan(1000);
    expect(rssMb() - before).toBeLessThan(200);
  });

  test('JSON nested 100,000 deep is a 400 at once, not a stack overflow', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = await fetch(`${base}/containers/create`, { method: 'POST', body: deep, headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toBe('JSON body nested deeper than 100 levels');
    expect(await pingMs()).toBeLessThan(1000);
  });

  test('a body that never finishes is given up after --api-body-timeout (408), the connection closed', async () => {
    const t0 = performance.now();
    const answer = await raw('POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"Ima', { keepOpenMs: 8000 });
    expect(answer).toStartWith('HTTP/1.1 408 ');
    expect(answer).toContain('request body stalled');
    expect(performance.now() - t0).toBeLessThan(7000);
  });

  test('a JSON route refuses bodies not declared application/json, as dockerd does', async () => {
    const body = '{"Image":"busybox","Cmd":["sleep","1000"]}';
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await fetch(`${base}/containers/create?name=x`, { method: 'POST', body, headers: { 'Content-Type': ct } });
      expect({ ct, status: r.status }).toEqual({ ct, status: 400 });
      expect(((await r.json()) as { message: string }).message).toBe(`Content-Type specified (${ct}) must be 'application/json'`);
    }
  });
});

test('bodies that are JSON but not objects are a 400 on the object routes', async () => {
  for (const path of ['/volumes/create', '/networks/create', '/networks/x/connect']) {
    for (const body of ['123', 'null', '[]']) {
      const r = await fetch(`${base}${path}`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
      expect({ path, body, status: r.status }).toEqual({ path, body, status: 400 });
      expect(((await r.json()) as { message: string }).message).toBe('request body must be a JSON object');
    }
  }
});

describe('browsers', () => {
  test('a request with an Origin header is refused without --api-enable-cors', async () => {
    const r = await fetch(`${base}/containers/x/start`, { method: 'POST', headers: { Origin: 'http://evil.example' } });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { message: string }).message).toContain('--api-enable-cors');
    const upgrade = await raw('POST /containers/x/attach?stream=1 HTTP/1.1\r\nHost: x\r\nOrigin: http://evil.example\r\nUpgrade: tcp\r\nConnection: Upgrade\r\n\r\n');
    expect(upgrade).toStartWith('HTTP/1.1 403 ');
  });

  test('with --api-enable-cors browsers get CORS headers', async () => {
    const p = await freePort();
    const m = swarm.start(['manage', '-H', `127.0.0.1:${p}`, '--api-enable-cors', `nodes://127.0.0.1:${await freePort()}`]);
    try {
      const r = await waitFor('cors manager', async () => (await fetch(`http://127.0.0.1:${p}/_ping`, { headers: { Origin: 'http://app.example' } }).catch(() => undefined)) ?? undefined, 10_000, 50);
      expect(r.status).toBe(200);
      expect(r.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await m.stop();
    }
  });
});

describe('connections', () => {
  test('one client holding too many connections gets new ones closed; a summary line is logged', async () => {
    // Each held connection has sent the start of a request and then nothing (headers never end).
    const held: Socket[] = [];
    for (let i = 0; i < 64; i++) {
      await new Promise<void>((resolve) => {
        const s = connect(port, '127.0.0.1', () => {
          s.write('GET /_ping HTTP/1.1\r\nHost: x\r\n');
          resolve();
        });
        s.on('error', () => resolve());
        held.push(s);
      });
    }
    await Bun.sleep(200);
    const refused = await raw('GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n', { keepOpenMs: 3000 });
    expect(refused).toBe('');
    for (const s of held) s.destroy();
    await waitFor('connections released', async () => ((await fetch(`${base}/_ping`).catch(() => undefined))?.ok ? true : undefined), 5000, 100);
    await waitFor('summary log line', () => (manager.log().includes('Refused or aborted client requests') ? true : undefined), 15_000, 200);
    expect(manager.log()).toContain('over --api-max-connections-per-client=');
    expect(manager.log().match(/ERROR/g) ?? []).toHaveLength(0);
  }, 30_000);
});
