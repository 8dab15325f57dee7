import { describe, expect, test } from 'bun:test';
import {
  affinityFilter,
  constraintFilter,
  containerSlotsFilter,
  DEFAULT_FILTERS,
  dependencyFilter,
  drainFilter,
  filterNames,
  getFilters,
  healthFilter,
  portFilter,
  whitelistFilter,
} from '../../../src/lib/scheduler';
import type { Filter, NodeSnapshot, PortBinding } from '../../../src/lib/scheduler';
import { container, names, node, req } from './fixtures';
import type { JsonObject } from '../../../src/lib/scheduler';

function run(filter: Filter, nodes: NodeSnapshot[], body: JsonObject = {}, ignoreSoft = false) {
  const r = filter.apply(nodes, req(body), { ignoreSoft });
  return { ...r, names: names(r.kept) };
}

function bound(id: string, hostPort: string, hostIp = '', containerPort = '80/tcp', state = 'running') {
  const b: PortBinding = { containerPort, hostIp, hostPort };
  return container(id, { portBindings: [b], state });
}

function publish(hostPort: string, hostIp = '', containerPort = '80/tcp'): JsonObject {
  return { HostConfig: { PortBindings: { [containerPort]: [{ HostIp: hostIp, HostPort: hostPort }] } } };
}

describe('health', () => {
  test('keeps nodes with healthIndicator > 0', () => {
    const r = run(healthFilter, [node('a', { healthIndicator: 0 }), node('b', { healthIndicator: 34 }), node('c')]);
    expect(r.names).toEqual(['b', 'c']);
    expect(r.rejected.get(node('a').id)).toBe('unhealthy');
    expect(r.error).toBeUndefined();
  });

  test('none healthy: v1 text', () => {
    expect(run(healthFilter, [node('a', { healthIndicator: 0 })]).error).toBe('No healthy node available in the cluster');
    expect(run(healthFilter, []).error).toBe('No healthy node available in the cluster');
  });

  test('lists no condition', () => {
    expect(healthFilter.conditions(req({}))).toEqual([]);
  });
});

describe('drain', () => {
  test('drained nodes take nothing new, and it never fails by itself', () => {
    const r = run(drainFilter, [node('a', { drained: true }), node('b')]);
    expect(r.names).toEqual(['b']);
    expect(r.rejected.get(node('a').id)).toBe('drained');
    const all = run(drainFilter, [node('a', { drained: true })]);
    expect(all.names).toEqual([]);
    expect(all.error).toBeUndefined();
  });
});

describe('port (bridge mode)', () => {
  test('same host port on all interfaces conflicts', () => {
    const r = run(portFilter, [node('a', { containers: [bound('x', '80')] }), node('b')], publish('80'));
    expect(r.names).toEqual(['b']);
    expect(r.rejected.get(node('a').id)).toBe('port 80 in use');
  });

  test('a different host port does not conflict', () => {
    expect(run(portFilter, [node('a', { containers: [bound('x', '81')] })], publish('80')).names).toEqual(['a']);
  });

  test('IP cases: same IP conflicts, different IPs do not, either side on all interfaces does', () => {
    const on = (ip: string) => [node('a', { containers: [bound('x', '80', ip)] })];
    expect(run(portFilter, on('10.0.0.1'), publish('80', '10.0.0.1')).names).toEqual([]);
    expect(run(portFilter, on('10.0.0.1'), publish('80', '10.0.0.2')).names).toEqual(['a']);
    expect(run(portFilter, on('10.0.0.1'), publish('80', '0.0.0.0')).names).toEqual([]);
    expect(run(portFilter, on('10.0.0.1'), publish('80', '')).names).toEqual([]);
    expect(run(portFilter, on('10.0.0.1'), publish('80', '::')).names).toEqual([]);
    expect(run(portFilter, on('0.0.0.0'), publish('80', '10.0.0.2')).names).toEqual([]);
    expect(run(portFilter, on('::'), publish('80', '10.0.0.2')).names).toEqual([]);
    expect(run(portFilter, on(''), publish('80', '10.0.0.2')).names).toEqual([]);
  });

  test('the reason names the IP when the request binds one', () => {
    const r = run(portFilter, [node('a', { containers: [bound('x', '80', '10.0.0.1')] })], publish('80', '10.0.0.1'));
    expect(r.rejected.get(node('a').id)).toBe('port 80 on 10.0.0.1 in use');
  });

  test('protocol is not compared: 53/tcp blocks 53/udp', () => {
    const nodes = [node('a', { containers: [bound('x', '53', '', '53/tcp')] })];
    expect(run(portFilter, nodes, publish('53', '', '53/udp')).names).toEqual([]);
  });

  test('stopped containers keep their ports; pending ones too', () => {
    expect(run(portFilter, [node('a', { containers: [bound('x', '80', '', '80/tcp', 'exited')] })], publish('80')).names).toEqual([]);
    expect(run(portFilter, [node('a', { containers: [bound('x', '80', '', '80/tcp', 'pending')] })], publish('80')).names).toEqual([]);
  });

  test('random ports (-P / no HostPort) never conflict, on either side', () => {
    const nodes = [node('a', { containers: [bound('x', '')] })];
    expect(run(portFilter, nodes, publish('')).names).toEqual(['a']);
    expect(run(portFilter, [node('a', { containers: [bound('x', '80')] })], publish('')).names).toEqual(['a']);
    expect(run(portFilter, nodes, publish('80')).names).toEqual(['a']);
  });

  test('every requested binding must be free; v1 error and condition texts', () => {
    const nodes = [node('a', { containers: [bound('x', '80')] }), node('b', { containers: [bound('y', '443')] })];
    const body: JsonObject = {
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '80' }], '443/tcp': [{ HostIp: '', HostPort: '443' }] } },
    };
    const r = run(portFilter, nodes, body);
    expect(r.names).toEqual([]);
    expect(r.error).toBe('unable to find a node with port 443 available');
    expect(r.rejected.get(node('a').id)).toBe('port 80 in use');
    expect(r.rejected.get(node('b').id)).toBe('port 443 in use');
    expect(portFilter.conditions(req(body))).toEqual(['port 80 (Bridge mode)', 'port 443 (Bridge mode)']);
  });

  test('bridge mode ignores host-mode exposed ports', () => {
    const nodes = [node('a', { containers: [container('h', { networkMode: 'host', exposedPorts: ['80/tcp'] })] })];
    expect(run(portFilter, nodes, publish('80')).names).toEqual(['a']);
  });
});

describe('port (host mode)', () => {
  const hostReq = (ports: string[]): JsonObject => ({
    ExposedPorts: Object.fromEntries(ports.map((p) => [p, {}])),
    HostConfig: { NetworkMode: 'host' },
  });
  const hostC = (id: string, ports: string[], networkMode = 'host') => container(id, { networkMode, exposedPorts: ports });

  test('an exposed port taken by another host-mode container conflicts', () => {
    const r = run(portFilter, [node('a', { containers: [hostC('x', ['80/tcp'])] }), node('b')], hostReq(['80/tcp']));
    expect(r.names).toEqual(['b']);
    expect(r.rejected.get(node('a').id)).toBe('port 80/tcp in use (host mode)');
  });

  test('protocol-sensitive: 53/tcp does not block 53/udp', () => {
    expect(run(portFilter, [node('a', { containers: [hostC('x', ['53/tcp'])] })], hostReq(['53/udp'])).names).toEqual(['a']);
  });

  test('only host-mode containers count', () => {
    expect(run(portFilter, [node('a', { containers: [hostC('x', ['80/tcp'], 'bridge')] })], hostReq(['80/tcp'])).names).toEqual(['a']);
    expect(run(portFilter, [node('a', { containers: [bound('x', '80')] })], hostReq(['80/tcp'])).names).toEqual(['a']);
  });

  test('v1 error and condition texts', () => {
    const r = run(portFilter, [node('a', { containers: [hostC('x', ['80/tcp'])] })], hostReq(['80/tcp']));
    expect(r.error).toBe('unable to find a node with port 80/tcp available in the Host mode');
    expect(portFilter.conditions(req(hostReq(['80/tcp', '53/udp'])))).toEqual(['port 80/tcp (Host mode)', 'port 53/udp (Host mode)']);
  });
});

describe('containerslots', () => {
  const withSlots = (name: string, slots: string | undefined, count: number, state = 'running') =>
    node(name, {
      labels: slots === undefined ? {} : { containerslots: slots },
      containers: Array.from({ length: count }, (_, i) => container(`${name}${i}`, { state })),
    });

  test('accepted while container count (all states) < N', () => {
    const r = run(containerSlotsFilter, [withSlots('a', '2', 1), withSlots('b', '2', 2, 'exited'), withSlots('c', '3', 2)]);
    expect(r.names).toEqual(['a', 'c']);
    expect(r.rejected.get(node('b').id)).toBe('all 2 container slots taken');
  });

  test('absent or non-integer label: unlimited; zero or negative: nothing', () => {
    const r = run(containerSlotsFilter, [withSlots('a', undefined, 50), withSlots('b', 'many', 50), withSlots('c', '1.5', 50), withSlots('d', '0', 0), withSlots('e', '-1', 0)]);
    expect(r.names).toEqual(['a', 'b', 'c']);
  });

  test('v1 error text; always lists "available container slots"', () => {
    expect(run(containerSlotsFilter, [withSlots('a', '1', 1)]).error).toBe('No node with enough open slots available in the cluster');
    expect(containerSlotsFilter.conditions(req({}))).toEqual(['available container slots']);
  });
});

describe('dependency', () => {
  const db = container('0123456789abcdef0123', { names: ['db'] });
  const data = container('fedcba9876543210fedc', { names: ['data'], labels: { 'com.docker.swarm.id': 'swarm0000000000001' } });
  const nodes = () => [node('a', { containers: [db] }), node('b', { containers: [data] }), node('c', { containers: [db, data] })];

  test('--link name:alias needs the named container', () => {
    expect(run(dependencyFilter, nodes(), { HostConfig: { Links: ['db:database'] } }).names).toEqual(['a', 'c']);
    expect(run(dependencyFilter, nodes(), { HostConfig: { Links: ['/db:/web/database'] } }).names).toEqual(['a', 'c']);
  });

  test('--volumes-from by name, short ID, full ID, mode suffix, swarm ID', () => {
    expect(run(dependencyFilter, nodes(), { HostConfig: { VolumesFrom: ['data:ro'] } }).names).toEqual(['b', 'c']);
    expect(run(dependencyFilter, nodes(), { HostConfig: { VolumesFrom: ['fedcba987654'] } }).names).toEqual(['b', 'c']);
    expect(run(dependencyFilter, nodes(), { HostConfig: { VolumesFrom: ['fedcba9876543210fedc:rw'] } }).names).toEqual(['b', 'c']);
    expect(run(dependencyFilter, nodes(), { HostConfig: { VolumesFrom: ['swarm0000000000001'] } }).names).toEqual(['b', 'c']);
    expect(run(dependencyFilter, nodes(), { HostConfig: { VolumesFrom: ['fedcba'] } }).names).toEqual(['b', 'c']);
  });

  test('--net=container:<x>', () => {
    expect(run(dependencyFilter, nodes(), { HostConfig: { NetworkMode: 'container:db' } }).names).toEqual(['a', 'c']);
  });

  test('all dependencies on the same node; reasons and v1 texts', () => {
    const body: JsonObject = { HostConfig: { Links: ['db:db'], VolumesFrom: ['data'], NetworkMode: 'container:db' } };
    const r = run(dependencyFilter, nodes(), body);
    expect(r.names).toEqual(['c']);
    expect(r.rejected.get(node('a').id)).toBe('missing dependency --volumes-from=data');
    expect(r.rejected.get(node('b').id)).toBe('missing dependency --link=db:db --net=container:db');
    expect(dependencyFilter.conditions(req(body))).toEqual(['--volumes-from=data', '--link=db:db', '--net=container:db']);
    const none = run(dependencyFilter, [node('a')], body);
    expect(none.error).toBe('unable to find a node fulfilling all dependencies: --volumes-from=data --link=db:db --net=container:db');
  });

  test('no dependencies: every node; empty node list is not an error', () => {
    expect(run(dependencyFilter, nodes()).names).toEqual(['a', 'b', 'c']);
    expect(run(dependencyFilter, [], { HostConfig: { Links: ['db:db'] } }).error).toBeUndefined();
  });

  test('an ambiguous name is not a match', () => {
    const twin = node('a', { containers: [container('1111', { names: ['db'] }), container('2222', { names: ['db'] })] });
    expect(run(dependencyFilter, [twin], { HostConfig: { Links: ['db:db'] } }).names).toEqual([]);
  });
});

describe('affinity', () => {
  const redis = container('aaaa1111', { names: ['redis-1'], image: 'redis', labels: { 'com.example.type': 'frontend' } });
  const nodes = () => [
    node('a', { containers: [redis], images: [{ id: 'sha256:1234abcd', repoTags: ['redis:7', 'myreg:5000/tools/redis:latest'], repoDigests: [] }] }),
    node('b', { containers: [container('bbbb2222', { names: ['web'], labels: { 'com.example.type': 'backend' } })] }),
    node('c'),
  ];

  test('container: by name (glob, regex) and ID', () => {
    expect(run(affinityFilter, nodes(), { Env: ['affinity:container==redis-1'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:container==redis*'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:container==/^re/'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:container==bbbb2222'] }).names).toEqual(['b']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:container!=redis*'] }).names).toEqual(['b', 'c']);
  });

  test('image: ID, repo:tag and bare repository', () => {
    expect(run(affinityFilter, nodes(), { Env: ['affinity:image==redis'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:image==redis:7'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:image==myreg:5000/tools/redis'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:image==sha256:1234*'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:image==redis:6'] }).names).toEqual([]);
  });

  test('any other key: container labels', () => {
    expect(run(affinityFilter, nodes(), { Env: ['affinity:com.example.type==frontend'] }).names).toEqual(['a']);
    expect(run(affinityFilter, nodes(), { Env: ['affinity:com.example.type!=frontend'] }).names).toEqual(['b', 'c']);
  });

  test('several affinities are ANDed; reason and error texts', () => {
    const r = run(affinityFilter, nodes(), { Env: ['affinity:image==redis', 'affinity:container==web'] });
    expect(r.names).toEqual([]);
    expect(r.error).toBe('unable to find a node that satisfies the affinity container==web');
    expect(r.rejected.get(node('b').id)).toBe('affinity image==redis not met');
    expect(r.rejected.get(node('a').id)).toBe('affinity container==web not met');
  });

  test('soft affinities apply in pass 1 and are skipped with ignoreSoft', () => {
    const body = { Env: ['affinity:container==~nothing*'] };
    expect(run(affinityFilter, nodes(), body).names).toEqual([]);
    expect(run(affinityFilter, nodes(), body, true).names).toEqual(['a', 'b', 'c']);
  });

  test('conditions with soft flag; parse error fails the filter', () => {
    expect(affinityFilter.conditions(req({ Env: ['affinity:image==~redis', 'affinity:container!=web'] }))).toEqual([
      'image==redis (soft=true)',
      'container!=web (soft=false)',
    ]);
    const bad = run(affinityFilter, nodes(), { Env: ['affinity:image=redis'] });
    expect(bad.error).toBe('One of operator ==, != is expected');
    expect(bad.names).toEqual([]);
    expect(bad.rejected.get(node('c').id)).toBe('invalid affinity: One of operator ==, != is expected');
    expect(() => affinityFilter.conditions(req({ Env: ['affinity:image=redis'] }))).toThrow('One of operator ==, != is expected');
  });
});

describe('constraint', () => {
  const nodes = () => [
    node('node-1', { labels: { storagedriver: 'overlay2', kernelversion: '5.10.0', operatingsystem: 'Debian GNU/Linux 12', ostype: 'linux', region: 'us-east' } }),
    node('node-2', { labels: { storagedriver: 'btrfs', ostype: 'linux', region: 'eu-west' } }),
    node('win-1', { labels: { ostype: 'windows' } }),
  ];

  test('node key: name or ID', () => {
    expect(run(constraintFilter, nodes(), { Env: ['constraint:node==node-1'] }).names).toEqual(['node-1']);
    expect(run(constraintFilter, nodes(), { Env: [`constraint:node==${'NODE-2-ID|10.0.0.1:2375'.replace('|', '*')}`] }).names).toEqual(['node-2']);
    expect(run(constraintFilter, nodes(), { Env: ['constraint:node!=/node-[12]/'] }).names).toEqual(['win-1']);
  });

  test('built-in labels', () => {
    expect(run(constraintFilter, nodes(), { Env: ['constraint:storagedriver==btrfs'] }).names).toEqual(['node-2']);
    expect(run(constraintFilter, nodes(), { Env: ['constraint:kernelversion==5.*'] }).names).toEqual(['node-1']);
    expect(run(constraintFilter, nodes(), { Env: ['constraint:operatingsystem==/(?i)debian/'] }).names).toEqual(['node-1']);
    expect(run(constraintFilter, nodes(), { Env: ['constraint:ostype==windows'] }).names).toEqual(['win-1']);
  });

  test('custom labels; a missing label reads as empty', () => {
    expect(run(constraintFilter, nodes(), { Env: ['constraint:region==us-*'] }).names).toEqual(['node-1']);
    expect(run(constraintFilter, nodes(), { Env: ['constraint:region!=us-*'] }).names).toEqual(['node-2', 'win-1']);
    expect(run(constraintFilter, nodes(), { Labels: { 'com.docker.swarm.constraints': '["region==*"]' } }).names).toEqual([
      'node-1',
      'node-2',
      'win-1',
    ]);
  });

  test('keys are case-insensitive (lower-cased), values are not', () => {
    expect(run(constraintFilter, nodes(), { Env: ['constraint:STORAGEDRIVER==btrfs'] }).names).toEqual(['node-2']);
    expect(run(constraintFilter, nodes(), { Env: ['constraint:storagedriver==BTRFS'] }).names).toEqual([]);
  });

  test('ANDed; reason and error texts; conditions drop the soft marker', () => {
    const r = run(constraintFilter, nodes(), { Env: ['constraint:ostype==linux', 'constraint:storagedriver==zfs'] });
    expect(r.error).toBe('unable to find a node that satisfies the constraint storagedriver==zfs');
    expect(r.rejected.get(node('win-1').id)).toBe('constraint ostype==linux not met');
    expect(r.rejected.get(node('node-2').id)).toBe('constraint storagedriver==zfs not met');
    expect(constraintFilter.conditions(req({ Env: ['constraint:region==~us*', 'constraint:node!=x1'] }))).toEqual(['region==us*', 'node!=x1']);
  });

  test('a label named like an Object property is not read from the prototype', () => {
    expect(run(constraintFilter, nodes(), { Env: ['constraint:constructor==*native*'] }).names).toEqual([]);
  });
});

describe('whitelist', () => {
  const nodes = () => [node('node-1'), node('node-2'), node('node-3')];

  test('| separated exact names', () => {
    expect(run(whitelistFilter, nodes(), { Env: ['whitelist:node==node-1|node-3'] }).names).toEqual(['node-1', 'node-3']);
    expect(run(whitelistFilter, nodes(), { Env: ['whitelist:node==node-*'] }).names).toEqual([]);
  });

  test('key and operator are ignored', () => {
    expect(run(whitelistFilter, nodes(), { Env: ['whitelist:anything!=node-2'] }).names).toEqual(['node-2']);
  });

  test('soft whitelists are honoured in pass 1 only; texts', () => {
    const body = { Env: ['whitelist:node==~gone'] };
    const r = run(whitelistFilter, nodes(), body);
    expect(r.error).toBe('unable to find a node that satisfies the whitelist node==~gone');
    expect(r.rejected.get(node('node-1').id)).toBe('whitelist node==~gone not met');
    expect(run(whitelistFilter, nodes(), body, true).names).toEqual(['node-1', 'node-2', 'node-3']);
    expect(whitelistFilter.conditions(req(body))).toEqual(['node==gone (soft=true)']);
  });
});

describe('registry', () => {
  test('default order and names', () => {
    expect(getFilters().map((f) => f.name)).toEqual([...DEFAULT_FILTERS]);
    expect(DEFAULT_FILTERS).toEqual(['health', 'port', 'containerslots', 'dependency', 'affinity', 'constraint', 'whitelist']);
    expect(filterNames().sort()).toEqual([...DEFAULT_FILTERS].sort());
  });

  test('given order is kept; unknown (drain included) is refused with v1 text', () => {
    expect(getFilters(['constraint', 'health']).map((f) => f.name)).toEqual(['constraint', 'health']);
    expect(() => getFilters(['health', 'bogus'])).toThrow('filter not supported');
    expect(() => getFilters(['drain'])).toThrow('filter not supported');
  });
});
