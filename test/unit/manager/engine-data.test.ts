/** Engines' data is input too: a malformed record is skipped and logged, and never poisons placement. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../../../src/lib/api/server';
import { containerInspectProblem, containerSummaryProblem, imageProblem, usableRecords } from '../../../src/lib/engine/validate';
import { setLogSink } from '../../../src/lib/log';
import { Cluster } from '../../../src/lib/manager/cluster';
import { Placer } from '../../../src/lib/manager/scheduling';
import { FakeEngine } from './fake-engine';

describe('record checks', () => {
  test('well-formed Docker records pass; wrong types are named', () => {
    expect(containerSummaryProblem({ Id: 'a', Names: ['/x'], Labels: { a: 'b' }, Ports: [], HostConfig: { NetworkMode: 'default' } })).toBeUndefined();
    expect(containerSummaryProblem({ Id: 'a', HostConfig: { PortBindings: [1, 2] } })).toBe('HostConfig.PortBindings is not a port map');
    expect(containerSummaryProblem({ Id: 'a', Names: '/x' })).toBe('Names is not a list of strings');
    expect(containerSummaryProblem({ Names: ['/x'] })).toBe('Id is missing');
    expect(containerSummaryProblem({ Id: 'a', Labels: { k: 1 } })).toBe('Labels is not a map of strings');
    expect(containerInspectProblem({ Id: 'a', HostConfig: { Memory: '1g' } })).toBe('HostConfig.Memory is not a number');
    expect(containerInspectProblem({ Id: 'a', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: 80 }] } } })).toBe('HostConfig.PortBindings[80/tcp].HostPort is not a string');
    expect(containerInspectProblem({ Id: 'a', HostConfig: { PortBindings: { '80/tcp': null } } })).toBeUndefined();
    expect(imageProblem({ Id: 'sha256:x', RepoTags: null })).toBeUndefined();
    expect(imageProblem({ Id: 'sha256:x', RepoTags: 'busybox' })).toBe('RepoTags is not a list of strings');
  });

  test('usableRecords keeps the good ones and reports each bad one', () => {
    const skipped: string[] = [];
    const out = usableRecords([{ Id: 'a' }, 5, { Id: 'b', Names: [1] }], containerSummaryProblem, (why) => skipped.push(why));
    expect(out).toEqual([{ Id: 'a' }]);
    expect(skipped).toEqual(['container summary is not an object', 'Names is not a list of strings']);
    expect(usableRecords({ not: 'a list' }, containerSummaryProblem, (why) => skipped.push(why))).toEqual([]);
  });
});

describe('a cluster whose engine holds a malformed container', () => {
  const engine = new FakeEngine('node-1', 'AAAA');
  const logs: string[] = [];
  let cluster: Cluster;
  let server: http.Server;
  let base = '';

  beforeAll(async () => {
    setLogSink((line) => logs.push(line));
    engine.containers.push({ Id: 'b'.repeat(64), Names: ['/bad'], Image: 'busybox', State: 'running', Labels: {}, Created: 1, rawHostConfig: { PortBindings: [1, 2] } });
    engine.containers.push({ Id: 'g'.repeat(64), Names: ['/good'], Image: 'busybox', State: 'running', Labels: {}, Created: 2 });
    const addr = await engine.start();
    const filters = ['health', 'port', 'constraint'];
    cluster = new Cluster({ engine: { refreshMinMs: 200, refreshMaxMs: 300, failureRetry: 2, overcommit: 0 }, strategy: 'spread', filters, overcommit: 0, createRetry: 0 });
    cluster.setEntries([addr]);
    server = createApiServer({ cluster, placer: new Placer(cluster, { strategy: 'spread', filters, overcommit: 0 }), serverVersion: 'swarm/test', strategy: 'spread', filters });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const end = Date.now() + 5000;
    while (cluster.healthy().length < 1 && Date.now() < end) await Bun.sleep(20);
  });

  afterAll(async () => {
    cluster.stop();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    await engine.stop();
  });

  test('the engine is Healthy, the bad record is skipped and logged once, creates still work', async () => {
    expect(cluster.healthy()).toHaveLength(1);
    const names = ((await (await fetch(`${base}/containers/json?all=1`)).json()) as { Names: string[] }[]).map((c) => c.Names[0]);
    expect(names).toEqual(['/node-1/good']);
    for (let i = 0; i < 2; i++) {
      const r = await fetch(`${base}/containers/create?name=new${i}`, { method: 'POST', body: JSON.stringify({ Image: 'busybox', HostConfig: { PortBindings: { '80/tcp': [{ HostPort: `${8080 + i}` }] } } }), headers: { 'Content-Type': 'application/json' } });
      expect(r.status).toBe(201);
    }
    await Bun.sleep(700); // a few refreshes
    expect(logs.filter((l) => l.includes('Engine sent a malformed container, ignored') && l.includes('PortBindings'))).toHaveLength(1);
  });
});
