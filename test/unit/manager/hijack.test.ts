/** Hijacked streams (exec start, attach) are spliced byte for byte, request body and half-close included. */
import { afterAll, beforeAll, expect, test } from 'bun:test';
import net from 'node:net';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../../../src/lib/api/server';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { setLogSink } from '../../../src/lib/log';
import { FakeEngine } from './fake-engine';

/** A raw upstream standing in for dockerd's hijacked endpoint: echoes upper-cased, says BYE on half-close. */
let upstream: net.Server;
let seenRequest = '';
const fake = new FakeEngine('node-1', 'AAAA');
let cluster: Cluster;
let server: http.Server;
let port = 0;

beforeAll(async () => {
  setLogSink(() => undefined);
  const addr = await fake.start();
  fake.containers.push({ Id: 'c'.repeat(64), Names: ['/web'], Image: 'busybox', State: 'running', Labels: {}, Created: 1 });
  cluster = new Cluster({ engine: { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: 3, overcommit: 0 }, strategy: 'spread', filters: ['health'], overcommit: 0, createRetry: 0 });
  cluster.setEntries([addr]);
  server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters: ['health'], overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters: ['health'] });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
  for (let i = 0; i < 100 && !cluster.healthy().length; i++) await Bun.sleep(20);
  // Point the engine's hijack target at a raw upstream on another port.
  upstream = net.createServer({ allowHalfOpen: true }, (s) => {
    let buf = '';
    let upgraded = false;
    s.on('data', (d) => {
      if (upgraded) {
        s.write(d.toString().toUpperCase());
        return;
      }
      buf += d.toString();
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/content-length: (\d+)/i.exec(buf)?.[1] ?? 0);
      if (buf.length < end + 4 + len) return;
      seenRequest = buf.slice(0, end + 4 + len);
      upgraded = true;
      s.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      const rest = buf.slice(end + 4 + len);
      if (rest) s.write(rest.toUpperCase());
    });
    s.on('end', () => s.end('BYE'));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const engine = cluster.all()[0]!;
  (engine.target as { port: number }).port = (upstream.address() as AddressInfo).port;
  engine.execCreated('exec1', 'c'.repeat(64));
});

afterAll(async () => {
  cluster.stop();
  server.closeAllConnections();
  server.close();
  upstream.close();
  await fake.stop();
});

function hijackCall(request: string, send: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    s.on('data', (d) => {
      got += d.toString();
      if (got.includes('\r\n\r\n') && !got.includes('__sent')) {
        got += '__sent';
        s.write(send);
        setTimeout(() => s.end(), 50);
      }
    });
    s.on('end', () => resolve(got.replace('__sent', '')));
    s.on('error', reject);
    s.write(request);
  });
}

test('exec start: JSON body reaches the engine, stdin goes through, half-close returns the tail', async () => {
  const body = '{"Detach":false,"Tty":false}';
  const out = await hijackCall(
    `POST /v1.41/exec/exec1/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'hello',
  );
  expect(seenRequest).toStartWith('POST /v1.41/exec/exec1/start HTTP/1.1\r\n');
  expect(seenRequest).toEndWith(`\r\n\r\n${body}`);
  expect(out).toStartWith('HTTP/1.1 101 UPGRADED\r\n');
  expect(out).toEndWith('HELLOBYE');
});

test('attach by name is rewritten to the container ID', async () => {
  const out = await hijackCall(`POST /v1.41/containers/web/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`, 'abc');
  expect(seenRequest).toStartWith(`POST /v1.41/containers/${'c'.repeat(64)}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1`);
  expect(out).toEndWith('ABCBYE');
});

test("attach with a JSON body (as dockerode sends): the body is not forwarded, so it is not the container's stdin", async () => {
  const body = '{"stream":true,"stdin":true,"stdout":true,"hijack":true}';
  const out = await hijackCall(
    `POST /v1.41/containers/web/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    'typed',
  );
  expect(seenRequest).toStartWith(`POST /v1.41/containers/${'c'.repeat(64)}/attach?stream=1&stdin=1&stdout=1 HTTP/1.1\r\n`);
  expect(seenRequest.toLowerCase()).not.toContain('content-length');
  expect(seenRequest).toEndWith('\r\n\r\n');
  expect(out).toStartWith('HTTP/1.1 101 UPGRADED\r\n');
  expect(out).not.toContain('"STREAM"');
  expect(out).toEndWith('TYPEDBYE');
});

test('unknown exec instance → 404 on the raw socket', async () => {
  const out = await new Promise<string>((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    s.on('data', (d) => (got += d.toString()));
    s.on('end', () => resolve(got));
    s.on('close', () => resolve(got));
    s.write('POST /v1.41/exec/nope/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 2\r\n\r\n{}');
  });
  expect(out).toStartWith('HTTP/1.1 404 Not Found');
  expect(out).toContain('No such exec instance: nope');
});
