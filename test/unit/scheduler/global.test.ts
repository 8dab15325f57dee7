import { describe, expect, test } from 'bun:test';
import {
  GLOBAL_ID_LABEL,
  GLOBAL_LABEL,
  globalIdOf,
  globalPlacement,
  isGlobalCreateBody,
  noGlobalTargetMessage,
  parseCreateRequest,
  parseGlobalValue,
  validateGlobal,
} from '../../../src/lib/scheduler';
import { container, GiB, names, node, req } from './fixtures';

const global = { Labels: { [GLOBAL_LABEL]: 'true' } };
const port80 = { HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '80' }] } } };
const copy = (id: string, globalId: string, name = 'g') => container(id, { names: [name], labels: { [GLOBAL_LABEL]: 'true', [GLOBAL_ID_LABEL]: globalId } });

describe('global: the label and the -e form', () => {
  test('values: true/1/yes, false/0/no/empty, anything else invalid', () => {
    for (const v of ['true', 'TRUE', ' 1', 'yes']) expect(parseGlobalValue(v)).toBe(true);
    for (const v of ['false', '0', 'no', '', undefined]) expect(parseGlobalValue(v)).toBe(false);
    expect(parseGlobalValue('sometimes')).toBeNull();
  });

  test('a create body asks for it by label or by -e global:, the Env form winning', () => {
    expect(isGlobalCreateBody({ Image: 'busybox', ...global })).toBe(true);
    expect(isGlobalCreateBody({ Image: 'busybox', Env: ['global:true'] })).toBe(true);
    expect(isGlobalCreateBody({ Image: 'busybox', Labels: { [GLOBAL_LABEL]: 'false' } })).toBe(false);
    expect(isGlobalCreateBody({ Image: 'busybox', Labels: { [GLOBAL_LABEL]: 'true' }, Env: ['global:false'] })).toBe(false);
    // An invalid value goes the global way, to be refused there.
    expect(isGlobalCreateBody({ Labels: { [GLOBAL_LABEL]: 'maybe' } })).toBe(true);
    expect(isGlobalCreateBody({ Image: 'busybox', Env: ['GLOBAL:true', 'global=true'] })).toBe(false);
    expect(isGlobalCreateBody(null)).toBe(false);
    expect(isGlobalCreateBody([global])).toBe(false);
  });

  test('-e global:true becomes the label and leaves Env, as the other -e expressions', () => {
    const r = parseCreateRequest({ Image: 'busybox', Env: ['A=1', 'global:true', 'constraint:zone==a'] });
    expect(r.labels[GLOBAL_LABEL]).toBe('true');
    expect(r.config.Env).toEqual(['A=1']);
    expect(r.constraints).toEqual(['zone==a']);
  });

  test('validation: a bad value, or a reschedule policy (a global container is never moved)', () => {
    expect(validateGlobal(req(global))).toBeNull();
    expect(validateGlobal(req({ Labels: { [GLOBAL_LABEL]: 'maybe' } }))).toBe(`invalid value for ${GLOBAL_LABEL}: 'maybe' (true or false)`);
    expect(validateGlobal(req({ ...global, Env: ['reschedule:on-node-failure'] }))).toContain('cannot have a reschedule policy');
    expect(validateGlobal(req({ ...global, Env: ['reschedule:off'] }))).toBeNull();
  });

  test('a copy is a container with global=true and a global ID', () => {
    expect(globalIdOf({ [GLOBAL_LABEL]: 'true', [GLOBAL_ID_LABEL]: 'abc' })).toBe('abc');
    expect(globalIdOf({ [GLOBAL_LABEL]: 'false', [GLOBAL_ID_LABEL]: 'abc' })).toBe('');
    expect(globalIdOf({ [GLOBAL_ID_LABEL]: 'abc' })).toBe('');
    expect(globalIdOf(undefined)).toBe('');
  });
});

describe('globalPlacement: every node that accepts the request on its own', () => {
  test('all healthy active nodes, in natural name order', () => {
    const nodes = [node('node-10'), node('node-2'), node('node-1')];
    const p = globalPlacement(nodes, req(global, 'g'));
    expect(names(p.targets)).toEqual(['node-1', 'node-2', 'node-10']);
    expect(p.rejected.size).toBe(0);
  });

  test('drained and unhealthy nodes take none, and say why', () => {
    const nodes = [node('a'), node('b', { drained: true }), node('c', { healthIndicator: 0 })];
    const p = globalPlacement(nodes, req(global, 'g'));
    expect(names(p.targets)).toEqual(['a']);
    expect(p.rejected.get(nodes[1]!.id)).toBe('drained');
    expect(p.rejected.get(nodes[2]!.id)).toBe('unhealthy');
  });

  test('constraints, whitelists and affinities choose the nodes; a soft one excludes none', () => {
    const nodes = [node('a', { labels: { zone: 'x' } }), node('b', { labels: { zone: 'y' } }), node('c', { labels: { zone: 'x' }, containers: [container('r', { names: ['redis'] })] })];
    expect(names(globalPlacement(nodes, req({ ...global, Env: ['constraint:zone==x'] }, 'g')).targets)).toEqual(['a', 'c']);
    expect(names(globalPlacement(nodes, req({ ...global, Env: ['whitelist:node==a|b'] }, 'g')).targets)).toEqual(['a', 'b']);
    expect(names(globalPlacement(nodes, req({ ...global, Env: ['affinity:container==redis'] }, 'g')).targets)).toEqual(['c']);
    expect(names(globalPlacement(nodes, req({ ...global, Env: ['constraint:zone==~x'] }, 'g')).targets)).toEqual(['a', 'b', 'c']);
    const p = globalPlacement(nodes, req({ ...global, Env: ['constraint:zone==x'] }, 'g'));
    expect(p.rejected.get(nodes[1]!.id)).toBe('constraint zone==x not met');
  });

  test('a port in use, or too little memory, keeps a node out', () => {
    const busy = container('web', { portBindings: [{ containerPort: '80/tcp', hostIp: '', hostPort: '80' }] });
    const nodes = [node('a', { containers: [busy] }), node('b'), node('c', { totalMemory: 1 * GiB })];
    const p = globalPlacement(nodes, req({ ...global, ...port80, HostConfig: { ...port80.HostConfig, Memory: 2 * GiB } }, 'g'));
    expect(names(p.targets)).toEqual(['b']);
    expect(p.rejected.get(nodes[0]!.id)).toBe('port 80 in use');
    expect(p.rejected.get(nodes[2]!.id)).toContain('memory');
  });

  test('nodes holding a copy are left out, so are nodes where another container has the name', () => {
    const nodes = [node('a', { containers: [copy('1', 'G1')] }), node('b', { containers: [container('x', { names: ['g'] })] }), node('c'), node('d', { containers: [copy('2', 'G2')] })];
    const p = globalPlacement(nodes, req(global, 'g'), {}, 'G1');
    expect(names(p.targets)).toEqual(['c']);
    expect(names(p.holding)).toEqual(['a']);
    expect(p.rejected.get(nodes[1]!.id)).toBe('name g in use');
    // d holds a copy of another global container named g: the engine would refuse a second g.
    expect(p.rejected.get(nodes[3]!.id)).toBe('name g in use');
  });

  test('a pending copy (a create in flight) counts as held', () => {
    const pending = { ...copy('', 'G1'), state: 'pending' };
    const p = globalPlacement([node('a', { containers: [pending] }), node('b')], req(global, 'g'), {}, 'G1');
    expect(names(p.targets)).toEqual(['b']);
    expect(names(p.holding)).toEqual(['a']);
  });

  test('when no node accepts it, the error is the scheduler\'s own for the whole cluster', () => {
    const nodes = [node('a', { labels: { zone: 'x' } }), node('b', { labels: { zone: 'x' } })];
    const request = req({ ...global, Env: ['constraint:zone==y'] }, 'g');
    const p = globalPlacement(nodes, request);
    expect(p.targets).toEqual([]);
    const message = noGlobalTargetMessage(nodes, request, p);
    expect(message).toStartWith('Unable to find a node that satisfies the following conditions \n[available container slots]\n[zone==y]');
    expect(message).toContain('0/2 nodes are available: 2 nodes: constraint zone==y not met (a, b)');
  });
});
