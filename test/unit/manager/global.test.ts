/** Global containers in the manager: the bodies copies are made from, and copies on fake engines through the API. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { createApiServer } from '../../../src/lib/api/server';
import type { CachedContainer } from '../../../src/lib/engine/engine';
import { Cluster } from '../../../src/lib/manager/cluster';
import { copyBody, copyOf, desiredAfter, GlobalContainers, globalCreateBody } from '../../../src/lib/manager/global';
import { Placer } from '../../../src/lib/manager/scheduling';
import { setLogSink } from '../../../src/lib/log';
import { GLOBAL_ID_LABEL, GLOBAL_LABEL, SWARM_ID_LABEL } from '../../../src/lib/scheduler';
import { FakeEngine } from './fake-engine';

describe('the bodies of copies', () => {
  test('a new global container: global labels set, -e global: folded in, no swarm ID (each copy gets its own)', () => {
    const body = { Image: 'busybox', Env: ['A=1', 'global:yes'], Labels: { [SWARM_ID_LABEL]: 'mine', keep: 'x' } };
    const out = globalCreateBody(body, 'G1');
    expect(out.Labels).toEqual({ keep: 'x', [GLOBAL_LABEL]: 'true', [GLOBAL_ID_LABEL]: 'G1' });
    expect(out.Env).toEqual(['A=1']);
    // The client's body is left alone.
    expect(body.Labels[SWARM_ID_LABEL]).toBe('mine');
  });

  test('another copy: the first copy\'s config and labels, without its swarm ID', () => {
    const c: CachedContainer = {
      id: 'c'.repeat(64),
      summary: { Id: 'c'.repeat(64), Names: ['/g'], Labels: {} },
      inspect: {
        Id: 'c'.repeat(64),
        Name: '/g',
        Config: { Image: 'busybox', Hostname: 'cccccccccccc', Labels: { [GLOBAL_LABEL]: 'true', [GLOBAL_ID_LABEL]: 'G1', [SWARM_ID_LABEL]: 'S1', 'com.docker.swarm.constraints': '["zone==a"]' } },
        HostConfig: { CpuShares: 1024, Memory: 64 },
      },
    } as unknown as CachedContainer;
    const body = copyBody(c, 2);
    expect(body.Labels).toEqual({ [GLOBAL_LABEL]: 'true', [GLOBAL_ID_LABEL]: 'G1', 'com.docker.swarm.constraints': '["zone==a"]' });
    expect(body.Hostname).toBeUndefined();
    expect(body.HostConfig).toMatchObject({ CpuShares: 2, Memory: 64 });
    expect(copyOf(c)).toBe('G1');
  });

  test('what a call leaves the container wanting', () => {
    const q = (s = '') => new URLSearchParams(s);
    expect(desiredAfter('start', q())).toBe('running');
    expect(desiredAfter('restart', q())).toBe('running');
    expect(desiredAfter('stop', q())).toBe('stopped');
    expect(desiredAfter('kill', q())).toBe('stopped');
    expect(desiredAfter('kill', q('signal=SIGKILL'))).toBe('stopped');
    expect(desiredAfter('kill', q('signal=HUP'))).toBeUndefined();
    expect(desiredAfter('pause', q())).toBeUndefined();
  });
});

describe('copies on fake engines', () => {
  const engines = [new FakeEngine('node-2', 'BBBB'), new FakeEngine('node-1', 'AAAA'), new FakeEngine('node-3', 'CCCC')];
  let cluster: Cluster;
  let globals: GlobalContainers;
  let server: http.Server;
  let base = '';
  let addrs: string[] = [];

  async function until(cond: () => boolean, ms = 5000) {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out waiting');
      await Bun.sleep(20);
    }
  }

  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${base}/v1.41${path}`, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  const named = (e: FakeEngine, name: string) => e.containers.filter((c) => c.Names.includes(`/${name}`));

  beforeAll(async () => {
    setLogSink(() => undefined);
    addrs = await Promise.all(engines.map((e) => e.start()));
    const filters = ['health', 'port', 'constraint'];
    cluster = new Cluster({ engine: { refreshMinMs: 200, refreshMaxMs: 300, failureRetry: 2, overcommit: 0 }, strategy: 'spread', filters, overcommit: 0, createRetry: 0 });
    const placer = new Placer(cluster, { strategy: 'spread', filters, overcommit: 0 });
    globals = new GlobalContainers(placer);
    globals.setActive(true);
    // node-3 joins later.
    cluster.setEntries(addrs.slice(0, 2));
    server = createApiServer({ cluster, placer, serverVersion: 'swarm/test', strategy: 'spread', filters, globals });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await until(() => cluster.healthy().length === 2);
  });

  afterAll(async () => {
    globals.stop();
    cluster.stop();
    server.closeAllConnections();
    server.close();
    await Promise.all(engines.map((e) => e.stop().catch(() => undefined)));
  });

  test('create: one copy per node, the same name and global ID, the answer is node-1\'s copy', async () => {
    const r = await api('POST', '/containers/create?name=g', { Image: 'busybox', Labels: { [GLOBAL_LABEL]: 'true' } });
    expect(r.status).toBe(201);
    const { Id } = (await r.json()) as { Id: string };
    const [one, two] = [named(engines[1]!, 'g'), named(engines[0]!, 'g')];
    expect(one).toHaveLength(1);
    expect(two).toHaveLength(1);
    expect(Id).toBe(one[0]!.Id);
    expect(one[0]!.Labels[GLOBAL_ID_LABEL]).toMatch(/^[0-9a-f]{64}$/);
    expect(two[0]!.Labels[GLOBAL_ID_LABEL]).toBe(one[0]!.Labels[GLOBAL_ID_LABEL]!);
    expect(two[0]!.Labels[SWARM_ID_LABEL]).not.toBe(one[0]!.Labels[SWARM_ID_LABEL]!);
    // The name is taken now.
    expect((await api('POST', '/containers/create?name=g', { Image: 'busybox', Env: ['global:true'] })).status).toBe(409);
  });

  test('start of the first copy\'s ID starts every copy', async () => {
    const id = named(engines[1]!, 'g')[0]!.Id;
    expect((await api('POST', `/containers/${id}/start`)).status).toBe(204);
    expect([...named(engines[0]!, 'g'), ...named(engines[1]!, 'g')].map((c) => c.State)).toEqual(['running', 'running']);
  });

  test('stop by <node>/<name> reaches one copy; by the name, all', async () => {
    expect((await api('POST', '/containers/node-2/g/stop')).status).toBe(204);
    expect(named(engines[0]!, 'g')[0]!.State).toBe('exited');
    expect(named(engines[1]!, 'g')[0]!.State).toBe('running');
    expect((await api('POST', '/containers/g/stop')).status).toBe(204);
    expect(named(engines[1]!, 'g')[0]!.State).toBe('exited');
    expect((await api('POST', '/containers/g/start')).status).toBe(204);
    // Other calls name one copy: v1's 404, saying why.
    const r = await api('GET', '/containers/g/json');
    expect(r.status).toBe(404);
    expect(((await r.json()) as { message: string }).message).toBe('No such container: g (g is a global container with 2 copies: node-1/g, node-2/g; name one as <node>/<name>)');
  });

  test('a node that joins gets its copy, started as the others run', async () => {
    cluster.setEntries(addrs);
    await until(() => named(engines[2]!, 'g').length === 1 && named(engines[2]!, 'g')[0]!.State === 'running');
    await globals.idle();
    expect(named(engines[2]!, 'g')[0]!.Labels[GLOBAL_ID_LABEL]).toBe(named(engines[1]!, 'g')[0]!.Labels[GLOBAL_ID_LABEL]!);
    expect(engines.map((e) => named(e, 'g').length)).toEqual([1, 1, 1]);
  });

  test('refused: a bad value, a reschedule policy, no node matching', async () => {
    const bad = await api('POST', '/containers/create?name=b', { Image: 'busybox', Labels: { [GLOBAL_LABEL]: 'maybe' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toBe(`invalid value for ${GLOBAL_LABEL}: 'maybe' (true or false)`);
    expect((await api('POST', '/containers/create?name=b', { Image: 'busybox', Env: ['global:true', 'reschedule:on-node-failure'] })).status).toBe(400);
    const none = await api('POST', '/containers/create?name=b', { Image: 'busybox', Env: ['global:true', 'constraint:zone==b'] });
    expect(none.status).toBe(500);
    expect(((await none.json()) as { message: string }).message).toContain('0/3 nodes are available: 3 nodes: constraint zone==b not met');
    expect(engines.map((e) => named(e, 'b').length)).toEqual([0, 0, 0]);
  });

  test('an image a node lacks: the engine\'s 404, so that the client pulls it', async () => {
    const r = await api('POST', '/containers/create?name=r', { Image: 'redis', Labels: { [GLOBAL_LABEL]: 'true' } });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { message: string }).message).toBe('No such image: redis (missing on node-1, node-2, node-3)');
  });

  test('without a name, the copies share a generated one', async () => {
    const r = await api('POST', '/containers/create', { Image: 'busybox', Env: ['global:true'] });
    expect(r.status).toBe(201);
    const names = engines.map((e) => e.containers.find((c) => c.Names[0]!.startsWith('/global-'))?.Names[0]);
    expect(names[0]).toMatch(/^\/global-[0-9a-f]{12}$/);
    expect(new Set(names).size).toBe(1);
  });
});
