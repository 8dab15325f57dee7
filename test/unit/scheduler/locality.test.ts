import { describe, expect, test } from 'bun:test';
import {
  applyLocalityRules,
  applyLocalVolumeRule,
  CONSTRAINTS_LABEL,
  localityFilter,
  namedVolumes,
  networkRequirements,
  placeContainer,
  WHITELISTS_LABEL,
} from '../../../src/lib/scheduler';
import type { JsonObject, Locality } from '../../../src/lib/scheduler';
import { container, node, req } from './fixtures';

const NODES = ['node-1', 'node-2', 'node-3'];

/** bridge/host/none on every node, `n1net` on node-1, `pair` on node-1 and node-2, `ovl` multi-host. */
function locality(over: Partial<Locality> = {}): Locality {
  const networks = NODES.flatMap((n, i) => ['bridge', 'host', 'none'].map((name) => ({ node: n, name, id: `${name}${i}`.padEnd(64, '0') })));
  networks.push({ node: 'node-1', name: 'n1net', id: 'abc123'.padEnd(64, '1') });
  networks.push({ node: 'node-1', name: 'pair', id: 'dd01'.padEnd(64, '2') }, { node: 'node-2', name: 'pair', id: 'dd02'.padEnd(64, '3') });
  return {
    nodes: NODES,
    networks,
    sharedNetworks: ['ovl', 'ee'.padEnd(64, '4')],
    volumes: [
      ...NODES.map((n) => ({ node: n, name: 'everywhere', driver: 'local' })),
      { node: 'node-3', name: 'data', driver: 'local' },
      { node: 'node-1', name: 'two', driver: 'local' },
      { node: 'node-2', name: 'two', driver: 'local' },
      { node: 'node-2', name: 'plugin', driver: 'nfs' },
    ],
    ...over,
  };
}

const cluster = () => NODES.map((n) => node(n));
const net = (mode: string, extra: JsonObject = {}) => req({ HostConfig: { NetworkMode: mode }, ...extra });

describe('network requirements', () => {
  test('a network on one node, by name, <node>/<name>, ID or short ID', () => {
    for (const ref of ['n1net', 'node-1/n1net', 'abc123'.padEnd(64, '1'), 'abc123111111', 'abc123']) {
      expect(networkRequirements(net(ref), locality())).toEqual([{ what: 'network n1net', nodes: ['node-1'] }]);
    }
  });

  test('a name on two of three nodes needs one of them; on every node, nothing', () => {
    expect(networkRequirements(net('pair'), locality())).toEqual([{ what: 'network pair', nodes: ['node-1', 'node-2'] }]);
    expect(networkRequirements(net('node-2/pair'), locality())).toEqual([{ what: 'network pair', nodes: ['node-2'] }]);
    for (const mode of ['bridge', 'host', 'none', 'default', '', 'container:web', 'ovl', 'unknown']) {
      expect(networkRequirements(net(mode), locality())).toEqual([]);
    }
  });

  test('EndpointsConfig keys count too (compose at API 1.44 sends every network)', () => {
    const r = net('bridge', { NetworkingConfig: { EndpointsConfig: { bridge: {}, n1net: { Aliases: ['x'] } } } });
    expect(networkRequirements(r, locality())).toEqual([{ what: 'network n1net', nodes: ['node-1'] }]);
  });
});

describe('locality in placement', () => {
  test('a hard node constraint elsewhere: no node, and the explanation says where the network is', () => {
    const r = applyLocalityRules(net('n1net', { Env: ['constraint:node==node-2'] }), locality());
    expect(r.constraints).toEqual(['node==node-2']);
    const p = placeContainer(cluster(), r);
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.error.message).toBe(
      'Unable to find a node that satisfies the following conditions \n[available container slots]\n[node==node-2]\n[network n1net (on node-1)]\n' +
        '0/3 nodes are available: 2 nodes: constraint node==node-2 not met (node-1, node-3); node-2: network n1net is local to node-1',
    );
  });

  test('the requirement is hard: when its node cannot take the container, pass 2 does not send it elsewhere', () => {
    const r = applyLocalityRules(net('n1net'), locality());
    expect(r.constraints).toEqual(['node==~node-1']);
    const ok = placeContainer(cluster(), r);
    expect(ok.ok && ok.node.name).toBe('node-1');
    const busy = node('node-1', { containers: [container('c1', { portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: '80' }] })] });
    const withPort = applyLocalityRules(net('n1net', { HostConfig: { NetworkMode: 'n1net', PortBindings: { '80/tcp': [{ HostPort: '80' }] } } }), locality());
    const p = placeContainer([busy, node('node-2'), node('node-3')], withPort);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error.explanation).toBe('0/3 nodes are available: 2 nodes: network n1net is local to node-1 (node-2, node-3); node-1: port 80 in use');
  });

  test('a name on two nodes keeps both; the third is turned down', () => {
    const r = applyLocalityRules(net('pair'), locality());
    expect(r.constraints).toEqual([]); // ambiguous for v1's rule: no soft constraint
    const p = placeContainer([node('node-3'), node('node-2'), node('node-1')], r);
    expect(p.ok && p.node.name).toBe('node-2');
    expect(p.ok && p.rejected.get(node('node-3').id)).toBe('network pair is local to node-1, node-2');
  });

  test('nothing is written to the labels, and a request without locality keeps every node', () => {
    const r = applyLocalityRules(net('node-1/n1net'), locality());
    expect(r.locality).toEqual([{ what: 'network n1net', nodes: ['node-1'] }]);
    expect((r.config.Labels as JsonObject)[CONSTRAINTS_LABEL]).toBe('["node==~node-1"]');
    expect(JSON.stringify(r.config)).not.toContain('locality');
    expect(localityFilter.apply(cluster(), req({}), { ignoreSoft: false }).kept).toHaveLength(3);
    expect(localityFilter.conditions(req({}))).toEqual([]);
  });

  test('<node>/<net> keys of EndpointsConfig (--network-alias) become the bare name', () => {
    const r = applyLocalityRules(net('node-1/n1net', { NetworkingConfig: { EndpointsConfig: { 'node-1/n1net': { Aliases: ['web'] } } } }), locality());
    expect(r.networkMode).toBe('n1net');
    expect(r.config.NetworkingConfig).toEqual({ EndpointsConfig: { n1net: { Aliases: ['web'] } } });
  });
});

describe('named volumes', () => {
  test('which mounts name a volume: -v name:/path and volume Mounts, not paths or other drivers', () => {
    const r = req({
      HostConfig: {
        Binds: ['data:/data', '/srv:/srv:ro', './rel:/x', 'two:/two:ro,z'],
        Mounts: [
          { Type: 'volume', Source: 'm1', Target: '/m1' },
          { Type: 'bind', Source: '/etc', Target: '/e' },
          { Type: 'volume', Source: 'nfsvol', Target: '/n', VolumeOptions: { DriverConfig: { Name: 'nfs' } } },
          { Type: 'volume', Target: '/anon' },
        ],
      },
    });
    expect(namedVolumes(r)).toEqual(['data', 'two', 'm1']);
    expect(namedVolumes(req({ HostConfig: { Binds: ['data:/data'], VolumeDriver: 'nfs' } }))).toEqual([]);
  });

  test('a volume on one node: soft node constraint; on a few: soft whitelist; everywhere or nowhere: nothing', () => {
    const one = applyLocalVolumeRule(req({ HostConfig: { Binds: ['data:/data'] } }), locality());
    expect(one.constraints).toEqual(['node==~node-3']);
    expect((one.config.Labels as JsonObject)[CONSTRAINTS_LABEL]).toBe('["node==~node-3"]');
    const few = applyLocalVolumeRule(req({ HostConfig: { Mounts: [{ Type: 'volume', Source: 'two', Target: '/t' }] } }), locality());
    expect(few.whitelists).toEqual(['node==~node-1|node-2']);
    expect((few.config.Labels as JsonObject)[WHITELISTS_LABEL]).toBe('["node==~node-1|node-2"]');
    for (const bind of ['everywhere:/e', 'fresh:/f', 'plugin:/p', '/abs:/a']) {
      const r = req({ HostConfig: { Binds: [bind] } });
      expect(applyLocalVolumeRule(r, locality())).toBe(r);
    }
  });

  test('a hard node constraint wins; the same node twice adds one constraint', () => {
    const hard = req({ Env: ['constraint:node==node-1'], HostConfig: { Binds: ['data:/data'] } });
    expect(applyLocalVolumeRule(hard, locality())).toBe(hard);
    const twice = applyLocalVolumeRule(req({ HostConfig: { Binds: ['data:/data', 'data:/again'] } }), locality());
    expect(twice.constraints).toEqual(['node==~node-3']);
  });

  test('the container goes to the volume, and elsewhere when that node cannot take it (soft)', () => {
    const r = applyLocalityRules(req({ HostConfig: { Binds: ['data:/data'], PortBindings: { '80/tcp': [{ HostPort: '80' }] } } }), locality());
    expect(r.locality).toBeUndefined();
    const p = placeContainer(cluster(), r);
    expect(p.ok && p.node.name).toBe('node-3');
    const busy = node('node-3', { containers: [container('c1', { portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: '80' }] })] });
    const moved = placeContainer([node('node-1'), node('node-2'), busy], r);
    expect(moved.ok && moved.softIgnored && moved.node.name).toBe('node-1');
  });

  test('a volume on one node and a network on another: the network wins (hard over soft)', () => {
    const r = applyLocalityRules(net('n1net', { HostConfig: { NetworkMode: 'n1net', Binds: ['data:/data'] } }), locality());
    expect(r.constraints).toEqual(['node==~node-1', 'node==~node-3']);
    const p = placeContainer(cluster(), r);
    expect(p.ok && p.softIgnored && p.node.name).toBe('node-1');
  });
});
