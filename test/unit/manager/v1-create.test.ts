/**
 * The create path against fake engines: who pulls a missing image (the client by default, the engine
 * with swarm.pull-on-create or for the rescheduler), an image held by another node, a node that
 * refuses connections (health lowered, the retry goes elsewhere, the docker client's error text),
 * and swarm IDs as container references.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type http from 'node:http';
import { Cluster } from '../../../src/lib/manager/cluster';
import { createContainer } from '../../../src/lib/manager/create';
import { ApiError } from '../../../src/lib/errors';
import { parseClusterOpts } from '../../../src/lib/manager/plan';
import { Placer } from '../../../src/lib/manager/scheduling';
import { setLogSink } from '../../../src/lib/log';
import { FakeEngine } from './fake-engine';

const FILTERS = ['health', 'affinity', 'constraint'];
const placerOf = (cluster: Cluster) => new Placer(cluster, { strategy: 'spread', filters: FILTERS, overcommit: 0 });

/** A fake engine that holds `images` only: a create of another image gets dockerd's 404, a pull adds it. */
class ImageEngine extends FakeEngine {
  images = new Set(['busybox:latest']);
  pulls: string[] = [];

  constructor(name: string, id: string) {
    super(name, id);
    const original = this.server.listeners('request')[0] as http.RequestListener;
    this.server.removeAllListeners('request');
    this.server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/^\/v1\.\d+/, '');
      const json = (status: number, body: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (path === '/images/json') return json(200, [...this.images].map((t, i) => ({ Id: `sha256:${i}${t}`, RepoTags: [t], RepoDigests: [], Created: 1, Size: 1 })));
      if (path === '/images/create') {
        req.resume();
        const ref = `${url.searchParams.get('fromImage')}:${url.searchParams.get('tag')}`;
        this.pulls.push(ref);
        this.images.add(ref);
        return json(200, { status: 'Downloaded newer image' });
      }
      if (path === '/containers/create') {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as { Image: string; Labels?: Record<string, string> };
          const image = body.Image.lastIndexOf(':') > body.Image.lastIndexOf('/') ? body.Image : `${body.Image}:latest`;
          if (!this.images.has(image)) return json(404, { message: `No such image: ${image}` });
          const id = `${this.name}${this.creates.length}`.padEnd(64, '0');
          this.creates.push(body);
          this.containers.push({ Id: id, Names: [`/${url.searchParams.get('name') || id.slice(0, 12)}`], Image: body.Image, State: 'created', Labels: body.Labels ?? {}, Created: Date.now() / 1000 });
          json(201, { Id: id, Warnings: [] });
        });
        return;
      }
      original(req, res);
    });
  }
}

async function healthyCluster(engines: FakeEngine[], opts: { createRetry?: number; failureRetry?: number; pullOnCreate?: boolean } = {}): Promise<Cluster> {
  const addrs = await Promise.all(engines.map((e) => e.start()));
  const cluster = new Cluster({
    engine: { refreshMinMs: 60_000, refreshMaxMs: 60_000, failureRetry: opts.failureRetry ?? 3, overcommit: 0 },
    strategy: 'spread',
    filters: FILTERS,
    overcommit: 0,
    createRetry: opts.createRetry ?? 0,
    pullOnCreate: opts.pullOnCreate,
  });
  cluster.setEntries(addrs);
  const end = Date.now() + 5000;
  while (cluster.healthy().length < engines.length) {
    if (Date.now() > end) throw new Error('fake engines did not validate');
    await Bun.sleep(20);
  }
  return cluster;
}

async function createError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('the create succeeded');
}

beforeAll(() => setLogSink(() => undefined));

describe('pull policy: the client decides unless swarm.pull-on-create', () => {
  const one = new ImageEngine('node-1', 'AAAA');
  const two = new ImageEngine('node-2', 'BBBB');
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await healthyCluster([one, two]);
  });
  afterAll(async () => {
    cluster.stop();
    await Promise.all([one.stop(), two.stop()]);
  });

  test("an image no node has: dockerd's 404 goes back, nothing is pulled", async () => {
    const err = await createError(createContainer(placerOf(cluster), { Image: 'reg:5000/app' }, ''));
    expect(err.status).toBe(404);
    expect(err.message).toBe('No such image: reg:5000/app:latest');
    expect([...one.pulls, ...two.pulls]).toEqual([]);
  });

  test('an image another node has: created there, nothing pulled, no affinity label', async () => {
    two.images.add('only2:v1');
    await cluster.engines.get(`127.0.0.1:${two.port}`)!.refreshImages();
    // A soft constraint sends the first attempt to node-1, which lacks the image.
    const created = await createContainer(placerOf(cluster), { Image: 'only2:v1', Env: ['constraint:node==~node-1'] }, '');
    expect(created.Id.startsWith('node-2')).toBe(true);
    expect([...one.pulls, ...two.pulls]).toEqual([]);
    const sent = two.creates.at(-1) as { Labels: Record<string, string> };
    expect(sent.Labels['com.docker.swarm.affinities']).toBeUndefined();
  });

  test('the nodes that have it cannot take it (hard constraint elsewhere): 404, so the client pulls', async () => {
    const err = await createError(createContainer(placerOf(cluster), { Image: 'only2:v1', Env: ['constraint:node==node-1'] }, ''));
    expect(err.status).toBe(404);
    expect(one.pulls).toEqual([]);
  });

  test('pullOnCreate (swarm.pull-on-create, the rescheduler): the chosen engine pulls, as v1', async () => {
    const created = await createContainer(placerOf(cluster), { Image: 'reg:5000/app', Env: ['constraint:node==node-1'] }, '', undefined, { pullOnCreate: true });
    expect(created.Id.startsWith('node-1')).toBe(true);
    expect(one.pulls).toEqual(['reg:5000/app:latest']);
  });

  test('--cluster-opt swarm.pull-on-create parses as an on/off option', () => {
    expect(parseClusterOpts([]).pullOnCreate).toBe(false);
    expect(parseClusterOpts(['swarm.pull-on-create=true']).pullOnCreate).toBe(true);
    expect(() => parseClusterOpts(['swarm.pull-on-create=yes'])).toThrow('invalid value "yes" for swarm.pull-on-create');
  });
});

describe('a node that refuses connections during a create', () => {
  const engines = [new FakeEngine('node-1', 'AAAA'), new FakeEngine('node-2', 'BBBB'), new FakeEngine('node-3', 'CCCC')];
  let cluster: Cluster;
  const dead = () => cluster.all().find((e) => e.name === 'node-3')!;

  beforeAll(async () => {
    // Spread prefers node-3 while it is healthy: it has the fewest containers.
    for (const [i, e] of engines.slice(0, 2).entries()) e.containers.push({ Id: String(i + 1).repeat(64), Names: [`/c${i}`], Image: 'busybox', State: 'running', Labels: {}, Created: 1 });
    cluster = await healthyCluster(engines, { createRetry: 1, failureRetry: 10 });
    await engines[2]!.stop();
  });
  afterAll(async () => {
    cluster.stop();
    await Promise.all(engines.slice(0, 2).map((e) => e.stop()));
  });

  test("pinned there: the docker client's error text, naming the node; its health drops", async () => {
    const before = dead().health.indicator();
    const err = await createError(createContainer(placerOf(cluster), { Image: 'busybox', Env: ['constraint:node==node-3'] }, ''));
    expect(err.status).toBe(500);
    expect(err.message).toStartWith(`Cannot connect to the Docker daemon at tcp://${dead().addr} (node node-3): `);
    expect(err.message).toContain('Is the docker daemon running?');
    expect(dead().health.indicator()).toBeLessThan(before);
    expect(dead().state).toBe('healthy');
  });

  test('the next create avoids it, though it is the emptiest and not yet Unhealthy', async () => {
    const created = await createContainer(placerOf(cluster), { Image: 'busybox' }, '');
    expect(created.Id.startsWith('node-3')).toBe(false);
  });

  test('swarm.createretry=1: a create sent there first (soft constraint) is retried on another node', async () => {
    const created = await createContainer(placerOf(cluster), { Image: 'busybox', Env: ['constraint:node==~node-3'] }, 'moved');
    expect(created.Id.startsWith('node-1') || created.Id.startsWith('node-2')).toBe(true);
    // The node avoided for the retry is not written to the container.
    const sent = [...engines[0]!.creates, ...engines[1]!.creates].at(-1) as { Labels: Record<string, string> };
    expect(sent.Labels['com.docker.swarm.constraints']).toBe('["node==~node-3"]');
  });
});

describe('swarm IDs as container references', () => {
  const one = new FakeEngine('node-1', 'AAAA');
  const two = new FakeEngine('node-2', 'BBBB');
  let cluster: Cluster;
  const sid = 'f'.repeat(8) + '0123456789abcdef'.repeat(3) + 'e'.repeat(8);

  beforeAll(async () => {
    one.containers.push({ Id: 'a'.repeat(64), Names: ['/old'], Image: 'busybox', State: 'exited', Labels: { 'com.docker.swarm.id': sid }, Created: 100 });
    two.containers.push({ Id: 'b'.repeat(64), Names: ['/new'], Image: 'busybox', State: 'running', Labels: { 'com.docker.swarm.id': sid }, Created: 200 });
    two.containers.push({ Id: 'c'.repeat(64), Names: ['/other'], Image: 'busybox', State: 'running', Labels: { 'com.docker.swarm.id': '9'.repeat(64) }, Created: 300 });
    cluster = await healthyCluster([one, two]);
  });
  afterAll(async () => {
    cluster.stop();
    await Promise.all([one.stop(), two.stop()]);
  });

  test('full, 12 characters, unique prefix; of two copies the newest on a healthy node', () => {
    for (const ref of [sid, sid.slice(0, 12), sid.slice(0, 5)]) expect(cluster.findContainer(ref)?.container.id).toBe('b'.repeat(64));
    expect(cluster.findContainer('9'.repeat(12))?.container.id).toBe('c'.repeat(64));
    // A container ID prefix still wins over a swarm ID prefix.
    expect(cluster.findContainer('aaaa')?.container.id).toBe('a'.repeat(64));
  });

  test('the copy on an unhealthy node is not the one meant', () => {
    const e2 = cluster.all().find((e) => e.name === 'node-2')!;
    // As many connection failures as make it Unhealthy, then one success brings it back.
    for (let i = 0; i < e2.health.failureRetry; i++) e2.health.failure('connection refused', true);
    try {
      expect(e2.state).toBe('unhealthy');
      expect(cluster.findContainer(sid)?.container.id).toBe('a'.repeat(64));
    } finally {
      e2.health.success();
    }
  });
});
