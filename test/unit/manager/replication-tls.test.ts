/**
 * A replica of a --tlsverify manager reaches the primary over TLS with the manager's own certificate
 * (as v1 did): plain requests and hijacks, the primary verifying the client certificate.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { ReplicaGate } from '../../../src/lib/api/replica';
import type { ElectionState } from '../../../src/lib/manager/replication';
import { makeTestCerts, type TestCerts } from '../../helpers/kv-servers';

let certs: TestCerts;
let primary: https.Server;
let replica: http.Server;
let replicaAddr = '';
let primaryAddr = '';
const seen: string[] = [];

beforeAll(async () => {
  certs = makeTestCerts();
  primary = https.createServer(
    { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      seen.push(req.url ?? '');
      res.end(`primary ${req.url}`);
    },
  );
  primary.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((r) => primary.listen(0, '127.0.0.1', () => r()));
  primaryAddr = `127.0.0.1:${(primary.address() as net.AddressInfo).port}`;
  const election: ElectionState = { self: '127.0.0.1:1', waitMs: 1000, isPrimary: () => false, leader: () => primaryAddr, waitForChange: async () => {} };
  // The manager's certificate (server cert, usable as client: serverAuth+clientAuth) and CA.
  const gate = new ReplicaGate(election, { cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca), verify: true });
  replica = http.createServer((req, res) => {
    if (!gate.intercept(req, res, req.url ?? '/')) res.end('local');
  });
  replica.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (!gate.interceptUpgrade(req, socket, head, req.url ?? '/')) socket.destroy();
  });
  await new Promise<void>((r) => replica.listen(0, '127.0.0.1', () => r()));
  replicaAddr = `127.0.0.1:${(replica.address() as net.AddressInfo).port}`;
});

afterAll(() => {
  primary?.closeAllConnections();
  primary?.close();
  replica?.closeAllConnections();
  replica?.close();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

describe('replica → primary over TLS', () => {
  test('plain request proxied with the manager certificate', async () => {
    const r = await fetch(`http://${replicaAddr}/containers/json`);
    expect(await r.text()).toBe('primary /containers/json');
    expect(seen).toContain('/containers/json');
  });
  test('without a client certificate the primary refuses: 500 Unable to reach primary cluster manager', async () => {
    const election: ElectionState = { self: '127.0.0.1:1', waitMs: 300, isPrimary: () => false, leader: () => primaryAddr, waitForChange: async (s) => void (await new Promise((r) => setTimeout(r, 50))) };
    const bare = new ReplicaGate(election, { cert: Buffer.alloc(0), key: Buffer.alloc(0), ca: readFileSync(certs.ca), verify: true });
    const server = http.createServer((req, res) => {
      if (!bare.intercept(req, res, req.url ?? '/')) res.end('local');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const r = await fetch(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/containers/json`);
    server.close();
    expect(r.status).toBe(500);
    expect(((await r.json()) as { message: string }).message).toBe('Unable to reach primary cluster manager');
  });
  test('hijack spliced over TLS', async () => {
    const { connect } = await import('node:net');
    const out = await new Promise<string>((resolve, reject) => {
      const s = connect(Number(replicaAddr.split(':')[1]), '127.0.0.1');
      let buf = '';
      s.on('connect', () => {
        s.write('POST /exec/x/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n');
        setTimeout(() => {
          s.write('ping');
          s.end();
        }, 100);
      });
      s.on('data', (d: Buffer) => (buf += d.toString()));
      s.on('end', () => resolve(buf));
      s.on('error', reject);
      setTimeout(() => reject(new Error('timeout: ' + buf)), 5000);
    });
    expect(out).toStartWith('HTTP/1.1 101 UPGRADED');
    expect(out).toEndWith('echo:ping');
  });
});
