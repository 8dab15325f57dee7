import { describe, expect, test } from 'bun:test';
import { explainRejections, placeContainer } from '../../../src/lib/scheduler';
import type { JsonObject, NodeSnapshot, PlaceFailure, PlaceResult } from '../../../src/lib/scheduler';
import { container, GiB, names, node, req } from './fixtures';

const UNABLE = 'Unable to find a node that satisfies the following conditions ';

function failure(p: PlaceResult): PlaceFailure {
  if (p.ok) throw new Error(`placed on ${p.node.name}`);
  return p.error;
}

function chosen(p: PlaceResult): string {
  if (!p.ok) throw new Error(p.error.message);
  return p.node.name;
}

const port80 = (hostPort = '80'): JsonObject => ({ HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: hostPort }] } } });
const on80 = () => container('web80', { portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: '80' }] });

describe('placeContainer: success', () => {
  test('returns the ranked list best first and the chosen node', () => {
    const nodes = [node('a', { containers: [container('1'), container('2')] }), node('b'), node('c', { containers: [container('3')] })];
    const p = placeContainer(nodes, req({}));
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(names(p.ranked.map((r) => r.node))).toEqual(['b', 'c', 'a']);
    expect(p.node.name).toBe('b');
    expect(p.softIgnored).toBe(false);
    expect(p.ranked[0]!.score?.weight).toBe(200 - 1000);
  });

  test('strategy by name or object, custom filter list in the given order', () => {
    const nodes = [node('a', { containers: [container('1')] }), node('b')];
    expect(chosen(placeContainer(nodes, req({}), { strategy: 'binpack' }))).toBe('a');
    expect(chosen(placeContainer(nodes, req({}), { strategy: 'random', rng: () => 0 }))).toBe('b');
    const unhealthy = [node('a', { healthIndicator: 0 })];
    expect(chosen(placeContainer(unhealthy, req({}), { filters: ['constraint'] }))).toBe('a');
    expect(() => placeContainer(nodes, req({}), { filters: ['nope'] })).toThrow('filter not supported');
    expect(() => placeContainer(nodes, req({}), { strategy: 'nope' })).toThrow('strategy not supported');
  });

  test('does not modify the nodes it is given', () => {
    const nodes = [node('a', { drained: true }), node('b')];
    const before = JSON.stringify(nodes);
    placeContainer(nodes, req({ Env: ['constraint:node==~a'] }));
    expect(JSON.stringify(nodes)).toBe(before);
  });
});

describe('placeContainer: soft expressions (pass 1, then pass 2 without them)', () => {
  const nodes = () => [node('a', { labels: { region: 'eu' } }), node('b', { labels: { region: 'us' }, containers: [container('x'), container('y')] })];

  test('a satisfiable soft constraint wins over the strategy', () => {
    const p = placeContainer(nodes(), req({ Env: ['constraint:region==~us'] }));
    expect(chosen(p)).toBe('b');
    expect(p.ok && p.softIgnored).toBe(false);
  });

  test('an unsatisfiable soft constraint is dropped in pass 2', () => {
    const p = placeContainer(nodes(), req({ Env: ['constraint:region==~asia'] }));
    expect(chosen(p)).toBe('a');
    expect(p.ok && p.softIgnored).toBe(true);
  });

  test('soft affinity and soft whitelist likewise', () => {
    expect(chosen(placeContainer(nodes(), req({ Env: ['affinity:container==~x'] })))).toBe('b');
    expect(chosen(placeContainer(nodes(), req({ Env: ['affinity:container==~zzz'] })))).toBe('a');
    expect(chosen(placeContainer(nodes(), req({ Env: ['whitelist:node==~b'] })))).toBe('b');
    expect(chosen(placeContainer(nodes(), req({ Env: ['whitelist:node==~gone'] })))).toBe('a');
  });

  test('a soft constraint that only fails on resources is dropped too', () => {
    const ns = [node('a', { totalMemory: 2 * GiB }), node('b', { totalMemory: GiB / 2, labels: { disk: 'ssd' } })];
    expect(chosen(placeContainer(ns, req({ Env: ['constraint:disk==~ssd'], HostConfig: { Memory: GiB } })))).toBe('a');
  });

  test('hard constraints are never dropped; the pass-2 error still lists soft ones', () => {
    const e = failure(placeContainer(nodes(), req({ Env: ['constraint:region==asia', 'constraint:zone==~z1'] })));
    expect(e.v1Message).toBe(`${UNABLE}\n[available container slots]\n[region==asia zone==z1]`);
    expect(e.kind).toBe('unsatisfied');
    expect(e.filter).toBe('constraint');
  });
});

describe('placeContainer: v1 error texts', () => {
  test('health: No healthy node available in the cluster', () => {
    const e = failure(placeContainer([node('a', { healthIndicator: 0 }), node('b', { healthIndicator: 0 })], req({})));
    expect(e.v1Message).toBe('No healthy node available in the cluster');
    expect(e.kind).toBe('no-healthy-node');
    expect(e.message).toBe('No healthy node available in the cluster\n0/2 nodes are available: 2 nodes: unhealthy (a, b)');
  });

  test('empty cluster: health says no healthy node; without filters, no nodes; no explanation', () => {
    const e = failure(placeContainer([], req({})));
    expect(e.message).toBe('No healthy node available in the cluster');
    expect(e.explanation).toBe('');
    const e2 = failure(placeContainer([], req({}), { filters: [] }));
    expect(e2.message).toBe('No nodes available in the cluster');
    expect(e2.kind).toBe('no-nodes');
  });

  test('port: the failing filter and every earlier one with conditions', () => {
    const e = failure(placeContainer([node('a', { containers: [on80()] })], req(port80())));
    expect(e.v1Message).toBe(`${UNABLE}\n[port 80 (Bridge mode)]`);
  });

  test('v1 example: port, slots, constraint lines', () => {
    const e = failure(placeContainer([node('a', { labels: { storage: 'disk' } })], req({ ...port80('8080'), Env: ['constraint:storage==ssd'] })));
    expect(e.v1Message).toBe(`${UNABLE}\n[port 8080 (Bridge mode)]\n[available container slots]\n[storage==ssd]`);
  });

  test('lines stop at the failing filter', () => {
    const e = failure(
      placeContainer([node('a', { labels: { containerslots: '0' } })], req({ ...port80('8080'), Env: ['constraint:storage==ssd'] })),
    );
    expect(e.v1Message).toBe(`${UNABLE}\n[port 8080 (Bridge mode)]\n[available container slots]`);
  });

  test('dependency and affinity lines', () => {
    const body: JsonObject = { Env: ['affinity:image==~redis'], HostConfig: { Links: ['db:db'], VolumesFrom: ['data'] } };
    const e = failure(placeContainer([node('a')], req(body)));
    expect(e.v1Message).toBe(`${UNABLE}\n[available container slots]\n[--volumes-from=data --link=db:db]`);
    const withDeps = node('a', { containers: [container('1', { names: ['db'] }), container('2', { names: ['data'] })] });
    const e2 = failure(placeContainer([withDeps], req({ ...body, Env: ['affinity:image==redis', 'affinity:container!=db'] })));
    expect(e2.v1Message).toBe(
      `${UNABLE}\n[available container slots]\n[--volumes-from=data --link=db:db]\n[image==redis (soft=false) container!=db (soft=false)]`,
    );
  });

  test('whitelist line', () => {
    const e = failure(placeContainer([node('a')], req({ Env: ['whitelist:node==b|c'] })));
    expect(e.v1Message).toBe(`${UNABLE}\n[available container slots]\n[node==b|c (soft=false)]`);
  });

  test('parse errors: error from <filter> filter: <err>', () => {
    const e = failure(placeContainer([node('a')], req({ Env: ['constraint:storage=ssd'] })));
    expect(e.v1Message).toBe(`${UNABLE}\n[available container slots]\nerror from constraint filter: One of operator ==, != is expected`);
    expect(e.explanation).toBe('0/1 nodes are available: a: invalid constraint: One of operator ==, != is expected');
    const e2 = failure(placeContainer([node('a')], req({ Env: ['affinity:x==y', 'constraint:storage==$$$@'] })));
    expect(e2.v1Message).toBe(`${UNABLE}\n[available container slots]\nerror from affinity filter: Key 'x' is invalid`);
  });

  test('strategy: no resources available to schedule container', () => {
    const e = failure(placeContainer([node('a', { totalMemory: GiB })], req({ HostConfig: { Memory: 2 * GiB } })));
    expect(e.v1Message).toBe('no resources available to schedule container');
    expect(e.kind).toBe('no-resources');
    expect(e.message).toBe('no resources available to schedule container\n0/1 nodes are available: a: insufficient memory (node too small)');
  });

  test('all nodes drained: No nodes available in the cluster', () => {
    const e = failure(placeContainer([node('a', { drained: true }), node('b', { drained: true })], req({})));
    expect(e.v1Message).toBe('No nodes available in the cluster');
    expect(e.filter).toBe('drain');
    expect(e.explanation).toBe('0/2 nodes are available: 2 nodes: drained (a, b)');
  });
});

describe('placeContainer: explanations', () => {
  test('one reason per node, v1 text first', () => {
    const nodes = [
      node('node-1', { containers: [on80()], labels: { storagedriver: 'btrfs' } }),
      node('node-2', { labels: { storagedriver: 'overlay2' } }),
      node('node-3', { drained: true, labels: { storagedriver: 'btrfs' } }),
    ];
    const e = failure(placeContainer(nodes, req({ ...port80(), Env: ['constraint:storagedriver==btrfs'] })));
    expect(e.explanation).toBe(
      '0/3 nodes are available: node-1: port 80 in use; node-2: constraint storagedriver==btrfs not met; node-3: drained',
    );
    expect(e.message).toBe(`${UNABLE}\n[port 80 (Bridge mode)]\n[available container slots]\n[storagedriver==btrfs]\n${e.explanation}`);
    expect(e.message.startsWith(e.v1Message)).toBe(true);
    expect(e.rejected.size).toBe(3);
  });

  test('the explanation is the one of pass 2 when soft expressions were dropped', () => {
    const nodes = [node('a', { containers: [on80()] }), node('b', { containers: [on80()] })];
    const e = failure(placeContainer(nodes, req({ ...port80(), Env: ['constraint:region==~x1'] })));
    expect(e.explanation).toBe('0/2 nodes are available: 2 nodes: port 80 in use (a, b)');
  });

  test('1,000 nodes sharing a reason stay one short line', () => {
    const nodes: NodeSnapshot[] = Array.from({ length: 1000 }, (_, i) => node(`node-${i + 1}`, { containers: [on80()] }));
    const e = failure(placeContainer(nodes, req(port80())));
    expect(e.explanation).toBe('0/1000 nodes are available: 1000 nodes: port 80 in use (node-1, node-2, node-3 and 997 more)');
    expect(e.message.length).toBeLessThan(200);
  });

  test('1,000 nodes with mixed reasons: largest group first, singles after', () => {
    const nodes: NodeSnapshot[] = Array.from({ length: 1000 }, (_, i) =>
      i === 500 ? node(`node-${i + 1}`, { drained: true }) : i % 2 === 0 ? node(`node-${i + 1}`, { healthIndicator: 0 }) : node(`node-${i + 1}`, { containers: [on80()] }),
    );
    const e = failure(placeContainer(nodes, req(port80())));
    expect(e.explanation).toBe(
      '0/1000 nodes are available: 500 nodes: port 80 in use (node-2, node-4, node-6 and 497 more); ' +
        '499 nodes: unhealthy (node-1, node-3, node-5 and 496 more); node-501: drained',
    );
  });

  test('many distinct reasons are capped', () => {
    const nodes = Array.from({ length: 20 }, (_, i) => node(`n${i}`, { labels: { containerslots: String(i % 10) }, containers: Array.from({ length: 10 }, (_, j) => container(`${i}-${j}`)) }));
    const text = explainRejections(nodes, failure(placeContainer(nodes, req({}))).rejected, { maxGroups: 3 });
    expect(text).toBe(
      '0/20 nodes are available: 2 nodes: all 0 container slots taken (n0, n10); 2 nodes: all 1 container slots taken (n1, n11); ' +
        '2 nodes: all 2 container slots taken (n2, n12); 7 more reasons on 14 nodes',
    );
  });
});
