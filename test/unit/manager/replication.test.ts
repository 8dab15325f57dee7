/**
 * The replica's decisions (serve here / pass to the primary / wait) and the ReplicaGate on real
 * sockets: a stand-in primary, a replica server that only has the gate, v1's 500 texts, hijacked
 * streams passed byte for byte with half-close.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { HOP_HEADER, isReplicaLocalPath, ReplicaGate, routeRequest } from '../../../src/lib/api/replica';
import { buildInfo } from '../../../src/lib/api/info';
import { NO_PRIMARY, PRIMARY_UNREACHABLE, leaderElectionError, type ElectionState } from '../../../src/lib/manager/replication';

class FakeElection implements ElectionState {
  primary = false;
  leaderAddr: string | undefined;
  private waiters = new Set<() => void>();
  constructor(
    readonly self: string,
    readonly waitMs: number,
  ) {}
  isPrimary(): boolean {
    return this.primary;
  }
  leader(): string | undefined {
    return this.primary ? this.self : this.leaderAddr;
  }
  set(primary: boolean, leader: string | undefined): void {
    this.primary = primary;
    this.leaderAddr = leader;
    for (const w of [...this.waiters]) w();
  }
  waitForChange(signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        resolve();
      };
      this.waiters.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

function listen(server: net.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as net.AddressInfo).port}`)));
}

/** Stand-in primary: echoes method, url, hop header and body; hijacks /exec/x/start into an echo. */
function fakePrimary(name: string): http.Server {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.writeHead(201, { 'Content-Type': 'application/json', 'X-From': name });
      res.end(JSON.stringify({ name, method: req.method, url: req.url, hop: req.headers[HOP_HEADER] ?? null, body: Buffer.concat(chunks).toString() }));
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    const got: Buffer[] = head.length ? [head] : [];
    const onData = (d: Buffer) => got.push(d);
    req.on('data', onData);
    socket.on('data', onData);
    // On the client's half-close: answer with everything received, then close our side.
    socket.on('end', () => socket.end(Buffer.concat([Buffer.from(`${name}:${req.url}:`), ...got])));
  });
  return server;
}

/** A replica that only has the gate; requests it keeps answer "local". */
function replicaServer(gate: ReplicaGate): http.Server {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/v1\.\d+/, '');
    if (gate.intercept(req, res, path)) return;
    req.resume();
    res.end('local');
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/^\/v1\.\d+/, '');
    if (gate.interceptUpgrade(req, socket, head, path)) return;
    socket.end('HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\nlocal');
  });
  return server;
}

/** A raw hijack: request with a body, half-close, read everything until the server closes. */
function hijack(addr: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const [host, port] = addr.split(':');
    const s = net.connect({ host: host!, port: Number(port), allowHalfOpen: true });
    let out = '';
    s.on('connect', () => {
      s.write(`POST /v1.41/exec/abc/start HTTP/1.1\r\nHost: ${addr}\r\nContent-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      setTimeout(() => {
        s.write(Buffer.from([0, 1, 2, 255, 10]));
        s.end();
      }, 100);
    });
    s.on('data', (d: Buffer) => (out += d.toString('latin1')));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    setTimeout(() => reject(new Error('hijack timed out: ' + JSON.stringify(out))), 5000);
  });
}

describe('routeRequest (pure)', () => {
  const self = '10.0.0.2:4000';
  test('a primary serves everything', () => {
    expect(routeRequest('/containers/json', { primary: true, leader: self, self, hopped: false })).toEqual({ kind: 'local' });
    expect(routeRequest('/containers/json', { primary: true, leader: undefined, self, hopped: true })).toEqual({ kind: 'local' });
  });
  test('a replica serves _ping, info, version and debug itself', () => {
    for (const p of ['/_ping', '/info', '/version', '/debug/pprof/heap']) {
      expect(isReplicaLocalPath(p)).toBe(true);
      expect(routeRequest(p, { primary: false, leader: undefined, self, hopped: false })).toEqual({ kind: 'local' });
    }
    expect(isReplicaLocalPath('/containers/info')).toBe(false);
  });
  test('a replica passes the rest to the primary, or waits when none is known', () => {
    expect(routeRequest('/containers/create', { primary: false, leader: '10.0.0.1:4000', self, hopped: false })).toEqual({ kind: 'proxy', to: '10.0.0.1:4000' });
    expect(routeRequest('/containers/create', { primary: false, leader: undefined, self, hopped: false })).toEqual({ kind: 'wait' });
    // A stale view naming itself: never proxy to itself.
    expect(routeRequest('/containers/create', { primary: false, leader: self, self, hopped: false })).toEqual({ kind: 'wait' });
    // Already passed on by another replica: never passed on again.
    expect(routeRequest('/containers/create', { primary: false, leader: '10.0.0.1:4000', self, hopped: true })).toEqual({ kind: 'wait' });
  });
  test('only KV discoveries can elect a leader', () => {
    for (const url of ['etcd://h:2379', 'consul://h:8500/p', 'zk://h:2181']) expect(leaderElectionError(url)).toBeNull();
    for (const url of ['nodes://h:2375', 'h:2375', 'file:///x', 'token://abc']) expect(leaderElectionError(url)).toBe('Leader election is only supported with consul, etcd and zookeeper discovery.');
  });
  test('docker info: Role and Primary lines', () => {
    const base = { nodes: [], strategy: 'spread', filters: ['health'], serverVersion: 'swarm/1.2.9', eventsListeners: 0 };
    expect((buildInfo(base).SystemStatus as string[][]).slice(0, 2)).toEqual([['Role', 'primary'], ['Strategy', 'spread']]);
    expect((buildInfo({ ...base, role: { role: 'replica', primary: '10.0.0.1:4000' } }).SystemStatus as string[][]).slice(0, 3)).toEqual([
      ['Role', 'replica'],
      ['Primary', '10.0.0.1:4000'],
      ['Strategy', 'spread'],
    ]);
  });
});

describe('ReplicaGate on sockets', () => {
  let primaryA: http.Server;
  let primaryB: http.Server;
  let replica: http.Server;
  let addrA = '';
  let addrB = '';
  let replicaAddr = '';
  let election: FakeElection;
  let gate: ReplicaGate;

  beforeAll(async () => {
    primaryA = fakePrimary('A');
    primaryB = fakePrimary('B');
    addrA = await listen(primaryA);
    addrB = await listen(primaryB);
    election = new FakeElection('127.0.0.1:1', 800);
    gate = new ReplicaGate(election);
    replica = replicaServer(gate);
    replicaAddr = await listen(replica);
  });
  afterAll(() => {
    for (const s of [primaryA, primaryB, replica]) {
      s.closeAllConnections();
      s.close();
    }
  });

  test('with a primary: requests and bodies go there, _ping stays', async () => {
    election.set(false, addrA);
    expect(gate.roleInfo()).toEqual({ role: 'replica', primary: addrA });
    const r = await fetch(`http://${replicaAddr}/v1.41/containers/create?name=x`, { method: 'POST', body: '{"Image":"busybox"}', headers: { 'Content-Type': 'application/json' } });
    expect(r.status).toBe(201);
    expect(r.headers.get('x-from')).toBe('A');
    expect(await r.json()).toEqual({ name: 'A', method: 'POST', url: '/v1.41/containers/create?name=x', hop: '1', body: '{"Image":"busybox"}' });
    expect(await (await fetch(`http://${replicaAddr}/_ping`)).text()).toBe('local');
    expect(await (await fetch(`http://${replicaAddr}/v1.41/info`)).text()).toBe('local');
  });

  test('a request already passed on by a replica is not passed on again', async () => {
    election.set(false, addrA);
    const t0 = Date.now();
    const r = await fetch(`http://${replicaAddr}/containers/json`, { headers: { [HOP_HEADER]: '1' } });
    expect(r.status).toBe(500);
    expect(((await r.json()) as { message: string }).message).toBe(NO_PRIMARY);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
  });

  test('hijack: 101 and stream passed byte for byte, half-close both ways', async () => {
    election.set(false, addrB);
    const out = await hijack(replicaAddr, '{"Detach":false,"Tty":false}');
    expect(out.startsWith('HTTP/1.1 101 UPGRADED\r\n')).toBe(true);
    expect(out.endsWith(`B:/v1.41/exec/abc/start:{"Detach":false,"Tty":false}\u0000\u0001\u0002\u00ff\n`)).toBe(true);
  });

  test('no primary: waits, then 500 No elected primary cluster manager', async () => {
    election.set(false, undefined);
    expect(gate.roleInfo()).toEqual({ role: 'replica' });
    const t0 = Date.now();
    const r = await fetch(`http://${replicaAddr}/containers/json`);
    expect(r.status).toBe(500);
    expect(((await r.json()) as { message: string }).message).toBe(NO_PRIMARY);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
  });

  test('a primary elected while a request waits gets it', async () => {
    election.set(false, undefined);
    const pending = fetch(`http://${replicaAddr}/containers/json`);
    setTimeout(() => election.set(false, addrB), 200);
    const r = await pending;
    expect(r.status).toBe(201);
    expect(((await r.json()) as { name: string }).name).toBe('B');
  });

  test('a request with a body waiting for a primary keeps its body', async () => {
    election.set(false, undefined);
    const pending = fetch(`http://${replicaAddr}/v1.41/containers/create`, { method: 'POST', body: '{"Image":"x"}' });
    setTimeout(() => election.set(false, addrA), 300);
    const r = await pending;
    expect(r.status).toBe(201);
    expect(((await r.json()) as { body: string }).body).toBe('{"Image":"x"}');
  });

  test('a hijack waiting for a primary keeps its body', async () => {
    election.set(false, undefined);
    setTimeout(() => election.set(false, addrA), 200);
    const out = await hijack(replicaAddr, '{"Detach":false}');
    expect(out).toContain('A:/v1.41/exec/abc/start:{"Detach":false}');
  });

  test('unreachable primary: 500 Unable to reach primary cluster manager; a new one is used at once', async () => {
    const dead = net.createServer();
    const deadAddr = await listen(dead);
    dead.close();
    election.set(false, deadAddr);
    const r = await fetch(`http://${replicaAddr}/containers/json`);
    expect(r.status).toBe(500);
    expect(((await r.json()) as { message: string }).message).toBe(PRIMARY_UNREACHABLE);
    const sock = net.connect({ host: '127.0.0.1', port: Number(replicaAddr.split(':')[1]) });
    await new Promise((res) => sock.once('connect', res));
    sock.destroy();
    const pending = fetch(`http://${replicaAddr}/containers/json`);
    setTimeout(() => election.set(false, addrA), 200);
    expect((await pending).status).toBe(201);
  });

  test('a primary serves locally', async () => {
    election.set(true, undefined);
    expect(gate.roleInfo()).toEqual({ role: 'primary' });
    expect(await (await fetch(`http://${replicaAddr}/containers/json`)).text()).toBe('local');
  });
});
