/** The publish proxy against real local sockets, over a stand-in cluster whose caches the tests edit. */
import { afterEach, expect, test } from 'bun:test';
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { CachedContainer } from '../../../src/lib/engine/engine';
import { PublishProxy, type ProxiedEngine } from '../../../src/lib/manager/publish-proxy';
import { applyPublishOption, defaultPublishSettings, publishAddress, sessionAffinityOn } from '../../../src/lib/manager/publish-options';
import { parseClusterOpts } from '../../../src/lib/manager/plan';
import { SessionAffinity, sessionOf } from '../../../src/lib/manager/session-affinity';
import type { Engine } from '../../../src/lib/engine/engine';
import { portInUse } from '../../../src/lib/scheduler/filters/port';
import type { NodeSnapshot } from '../../../src/lib/scheduler/types';

class StandInEngine implements ProxiedEngine {
  containers = new Map<string, CachedContainer>();
  containersVersion = 0;
  healthy = true;
  constructor(
    readonly name: string,
    readonly addr: string,
    readonly ip = '127.0.0.1',
  ) {}
  isHealthy(): boolean {
    return this.healthy;
  }
  put(id: string, state: string, ports: Record<string, { HostIp: string; HostPort: string }[]>, swarmId = `swarm-${id}`, created = 1): void {
    this.containers.set(id, {
      id,
      summary: { Id: id, State: state, Created: created, Labels: { 'com.docker.swarm.id': swarmId } },
      inspect: { State: { Status: state }, NetworkSettings: { Ports: state === 'running' ? ports : {} } },
    } as CachedContainer);
    this.containersVersion++;
  }
}

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A TCP server that answers each connection with `<tag>:<what it read>` once the client half-closes. */
async function tagServer(tag: string): Promise<number> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => s.end(`${tag}:${Buffer.concat(chunks).toString()}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return (server.address() as net.AddressInfo).port;
}

function ask(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    const chunks: Buffer[] = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => {
      s.end();
      resolve(Buffer.concat(chunks).toString());
    });
    s.on('error', reject);
    s.end(text);
  });
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

function setup(engines: StandInEngine[], maxConnections = 100) {
  const bus = new EventEmitter();
  const proxy = new PublishProxy({ registered: () => engines, bus }, { addr: '127.0.0.1', maxConnections, idleTimeoutMs: 0, resyncMs: 60_000 });
  proxy.start();
  cleanups.push(() => proxy.stop());
  return { proxy, bus };
}

test('a running container’s port is proxied on a free manager port; half-close passes; stop closes it', async () => {
  const backend = await tagServer('n1');
  const e = new StandInEngine('node-1', '127.0.0.1:2375');
  e.put('c1', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(backend) }, { HostIp: '::', HostPort: String(backend) }] });
  const { proxy } = setup([e]);
  await proxy.settle();
  const b = proxy.managerBinding(e, 'tcp', '0.0.0.0', backend)!;
  expect(b.ip).toBe('127.0.0.1');
  expect(b.port).not.toBe(backend); // the node's number is taken here (by the backend itself)
  expect(proxy.list()).toHaveLength(1); // 0.0.0.0 and :: are one node port
  expect(await ask(b.port, 'hello')).toBe('n1:hello');
  e.put('c1', 'exited', {});
  await proxy.settle();
  expect(proxy.managerBinding(e, 'tcp', '0.0.0.0', backend)).toBeUndefined();
  expect(await refused(b.port)).toBe(true);
});

test('the node port number is used when free; loopback-only bindings are not proxied', async () => {
  const backend = await tagServer('n1');
  const free = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
  // The node (10.x) publishes `free`; the target is unreachable here, but listening needs no target.
  const e = new StandInEngine('node-1', '10.255.0.1:2375', '10.255.0.1');
  e.put('c1', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(free) }], '81/tcp': [{ HostIp: '127.0.0.1', HostPort: String(backend) }] });
  const { proxy } = setup([e]);
  await proxy.settle();
  expect(proxy.managerBinding(e, 'tcp', '', free)).toEqual({ ip: '127.0.0.1', port: free });
  expect(proxy.managerBinding(e, 'tcp', '127.0.0.1', backend)).toBeUndefined();
  expect(proxy.list()).toHaveLength(1);
});

test('two nodes with the same port: two manager ports; node loss closes; rescheduled copy gets the port back', async () => {
  const [b1, b2] = [await tagServer('n1'), await tagServer('n2')];
  const e1 = new StandInEngine('node-1', 'a:2375');
  const e2 = new StandInEngine('node-2', 'b:2375');
  // Both "nodes" are this host: distinct backends stand for the same port number on two machines.
  e1.put('c1', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(b1) }] }, 'web');
  e2.put('c2', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(b2) }] }, 'db');
  const { proxy, bus } = setup([e1, e2]);
  await proxy.settle();
  const p1 = proxy.managerBinding(e1, 'tcp', '0.0.0.0', b1)!.port;
  const p2 = proxy.managerBinding(e2, 'tcp', '0.0.0.0', b2)!.port;
  expect(p1).not.toBe(p2);
  expect(await ask(p1, 'x')).toBe('n1:x');
  expect(await ask(p2, 'y')).toBe('n2:y');
  e1.healthy = false; // node lost
  bus.emit('event', {});
  await proxy.settle();
  expect(await refused(p1)).toBe(true);
  // Rescheduled: the same swarm ID on node-2, published there on b2's sibling.
  const b3 = await tagServer('n2-web');
  e2.put('c3', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(b3) }] }, 'web', 2);
  await proxy.settle();
  expect(proxy.managerBinding(e2, 'tcp', '0.0.0.0', b3)!.port).toBe(p1);
  expect(await ask(p1, 'z')).toBe('n2-web:z');
});

test('a listener is re-pointed in place when its container moves without a gap', async () => {
  const [b1, b2] = [await tagServer('old'), await tagServer('new')];
  const e1 = new StandInEngine('node-1', 'a:2375');
  const e2 = new StandInEngine('node-2', 'b:2375');
  e1.put('c1', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(b1) }] }, 'web');
  const { proxy } = setup([e1, e2]);
  await proxy.settle();
  const port = proxy.managerBinding(e1, 'tcp', '0.0.0.0', b1)!.port;
  e1.containers.clear();
  e1.containersVersion++;
  e2.put('c2', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(b2) }] }, 'web', 2);
  await proxy.settle();
  expect(proxy.managerBinding(e2, 'tcp', '0.0.0.0', b2)!.port).toBe(port);
  expect(await ask(port, 'q')).toBe('new:q');
});

test('connection limit: connections beyond it are closed at once', async () => {
  const backend = await tagServer('n1');
  const e = new StandInEngine('node-1', 'a:2375');
  e.put('c1', 'running', { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: String(backend) }] });
  const { proxy } = setup([e], 1);
  await proxy.settle();
  const port = proxy.managerBinding(e, 'tcp', '0.0.0.0', backend)!.port;
  const first = net.connect({ port, host: '127.0.0.1' });
  await new Promise((r) => first.once('connect', r));
  await Bun.sleep(50);
  expect(proxy.connections).toBe(1);
  const second = await ask(port, 'x').catch(() => 'closed');
  expect(second === '' || second === 'closed').toBe(true);
  first.destroy();
  await Bun.sleep(50);
  expect(await ask(port, 'again')).toBe('n1:again');
});

test('UDP ports are proxied per client flow', async () => {
  const server = dgram.createSocket('udp4');
  server.on('message', (m, r) => server.send(`pong:${m}`, r.port, r.address));
  await new Promise<void>((r) => server.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => server.close());
  const nodePort = server.address().port;
  const e = new StandInEngine('node-1', 'a:2375');
  e.put('c1', 'running', { '53/udp': [{ HostIp: '0.0.0.0', HostPort: String(nodePort) }] });
  const { proxy } = setup([e]);
  await proxy.settle();
  const port = proxy.managerBinding(e, 'udp', '0.0.0.0', nodePort)!.port;
  expect(proxy.managerBinding(e, 'tcp', '0.0.0.0', nodePort)).toBeUndefined();
  const client = dgram.createSocket('udp4');
  cleanups.push(() => client.close());
  const reply = new Promise<string>((r) => client.once('message', (m) => r(m.toString())));
  client.send('ping', port, '127.0.0.1');
  expect(await reply).toBe('pong:ping');
});

test('options: parsing, address choice, refusals', () => {
  expect(parseClusterOpts(['swarm.publish-proxy=true', 'swarm.session-affinity=1']).publish).toMatchObject({ proxy: true, sessionAffinity: true, maxConnections: 4096 });
  expect(parseClusterOpts([]).publish.proxy).toBe(false);
  expect(sessionAffinityOn(parseClusterOpts(['swarm.publish-proxy=true']).publish)).toBe(true);
  expect(sessionAffinityOn(parseClusterOpts(['swarm.session-affinity=false', 'swarm.publish-proxy=true']).publish)).toBe(false);
  expect(sessionAffinityOn(parseClusterOpts(['swarm.session-affinity=true']).publish)).toBe(true);
  expect(sessionAffinityOn(parseClusterOpts([]).publish)).toBe(false);
  const s = applyPublishOption(applyPublishOption(defaultPublishSettings(), 'swarm.publish-proxy.max-connections', '10'), 'swarm.publish-proxy.idle-timeout', '5m');
  expect(s).toMatchObject({ maxConnections: 10, idleTimeoutMs: 300_000 });
  expect(() => parseClusterOpts(['swarm.publish-proxy=yes'])).toThrow('expected true or false');
  expect(() => parseClusterOpts(['swarm.publish-proxy.addr=manager'])).toThrow('expected an IP address');
  expect(() => parseClusterOpts(['swarm.publish-proxy.max-connections=0'])).toThrow('positive integer');
  const d = defaultPublishSettings();
  expect(publishAddress(d, [{ kind: 'tcp', host: '10.0.0.5', port: 4000 }])).toBe('10.0.0.5');
  expect(publishAddress(d, [{ kind: 'unix', path: '/s' }, { kind: 'tcp', host: '0.0.0.0', port: 4000 }])).toBe('0.0.0.0');
  expect(publishAddress(d, [{ kind: 'unix', path: '/s' }])).toBe('127.0.0.1');
  expect(publishAddress({ ...d, addr: '192.168.1.9' }, [{ kind: 'tcp', host: '0.0.0.0', port: 4000 }])).toBe('192.168.1.9');
});

test('port filter: HostPort 0 is a random port, as for dockerd (never a clash)', () => {
  const node = { containers: [{ portBindings: [{ containerPort: '8080/tcp', hostIp: '', hostPort: '0' }] }] } as unknown as NodeSnapshot;
  expect(portInUse(node, { containerPort: '80/tcp', hostIp: '', hostPort: '0' })).toBe(false);
  expect(portInUse(node, { containerPort: '80/tcp', hostIp: '', hostPort: '' })).toBe(false);
  const fixed = { containers: [{ portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: '8080' }] }] } as unknown as NodeSnapshot;
  expect(portInUse(fixed, { containerPort: '80/tcp', hostIp: '', hostPort: '8080' })).toBe(true);
});

test('session affinity: header or labels name the session; its node becomes a soft constraint', () => {
  expect(sessionOf({ 'x-tc-sid': 'abc-123' }, {})).toBe('abc-123');
  expect(sessionOf({}, { 'org.testcontainers.session-id': 'u1' })).toBe('u1');
  expect(sessionOf({}, { 'org.testcontainers.sessionId': 'j1' })).toBe('j1');
  expect(sessionOf({ 'x-tc-sid': 'bad value!' }, null)).toBeUndefined();
  const n1 = { name: 'node-1', isHealthy: () => true, containers: new Map(), networks: new Map() };
  const n2 = {
    name: 'node-2',
    isHealthy: () => true,
    containers: new Map([['c', { id: 'c', summary: { Id: 'c', Labels: { 'org.testcontainers.session-id': 'old' } } }]]),
    networks: new Map(),
  };
  const sessions = new SessionAffinity({ registered: () => [n1, n2] as unknown as Engine[] });
  expect(sessions.constraints('new')).toEqual([]);
  expect(sessions.constraints('old')).toEqual(['node==~node-2']); // found by label (after a restart)
  sessions.remember('new', 'node-1');
  expect(sessions.constraints('new')).toEqual(['node==~node-1']);
  expect(sessions.session({}, { Labels: { 'org.testcontainers.session-id': 'x' } })).toBe('x');
});
