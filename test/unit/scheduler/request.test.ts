import { describe, expect, test } from 'bun:test';
import {
  addConstraint,
  AFFINITIES_LABEL,
  CONSTRAINTS_LABEL,
  cpusToShares,
  engineCreateBody,
  goJson,
  hasHardNodeConstraint,
  parseBuildRequest,
  parseCreateRequest,
  RESCHEDULE_POLICIES_LABEL,
  sharesToCpus,
  validateReschedulePolicies,
  WHITELISTS_LABEL,
  withLabel,
} from '../../../src/lib/scheduler';
import type { JsonObject } from '../../../src/lib/scheduler';
import { ApiError } from '../../../src/lib/errors';
import { req } from './fixtures';

describe('parseCreateRequest: expressions', () => {
  test('env entries constraint:/affinity:/whitelist:/reschedule: are taken out of Env', () => {
    const r = req({
      Env: [
        'A=1',
        'constraint:node==node-1',
        'affinity:container!=~redis*',
        'whitelist:node==a|b',
        'reschedule:on-node-failure',
        'constraint:storage==ssd',
        'B=constraint:x',
      ],
    });
    expect(r.constraints).toEqual(['node==node-1', 'storage==ssd']);
    expect(r.affinities).toEqual(['container!=~redis*']);
    expect(r.whitelists).toEqual(['node==a|b']);
    expect(r.reschedulePolicies).toEqual(['on-node-failure']);
    expect(r.config.Env).toEqual(['A=1', 'B=constraint:x']);
  });

  test('keys are compared exactly and need a colon', () => {
    const r = req({ Env: ['Constraint:node==x', 'constraint', 'constraints:node==x', 'constraint=node==x'] });
    expect(r.constraints).toEqual([]);
    expect(r.config.Env).toEqual(['Constraint:node==x', 'constraint', 'constraints:node==x', 'constraint=node==x']);
  });

  test('label JSON arrays come first, env entries are appended, merged arrays written back', () => {
    const r = req({
      Env: ['constraint:region==us'],
      Labels: {
        [CONSTRAINTS_LABEL]: '["storage==ssd"]',
        [AFFINITIES_LABEL]: '["image==nginx"]',
        [WHITELISTS_LABEL]: '["node==n1"]',
        [RESCHEDULE_POLICIES_LABEL]: '["off"]',
        other: 'x',
      },
    });
    expect(r.constraints).toEqual(['storage==ssd', 'region==us']);
    expect(r.affinities).toEqual(['image==nginx']);
    expect(r.whitelists).toEqual(['node==n1']);
    expect(r.reschedulePolicies).toEqual(['off']);
    expect(r.config.Labels).toEqual({
      [CONSTRAINTS_LABEL]: '["storage==ssd","region==us"]',
      [AFFINITIES_LABEL]: '["image==nginx"]',
      [WHITELISTS_LABEL]: '["node==n1"]',
      [RESCHEDULE_POLICIES_LABEL]: '["off"]',
      other: 'x',
    });
    expect(r.labels[CONSTRAINTS_LABEL]).toBe('["storage==ssd","region==us"]');
  });

  test('labels are created when only env carries expressions; none written when there are none', () => {
    expect(req({ Env: ['affinity:image==redis'] }).config.Labels).toEqual({ [AFFINITIES_LABEL]: '["image==redis"]' });
    expect(req({ Env: ['A=1'] }).config.Labels).toBeUndefined();
  });

  test('a label that is not a JSON array of strings is ignored (Go json.Unmarshal), and kept as is', () => {
    const r = req({ Labels: { [CONSTRAINTS_LABEL]: 'node==x', [AFFINITIES_LABEL]: '{"a":1}' } });
    expect(r.constraints).toEqual([]);
    expect(r.affinities).toEqual([]);
    expect(r.config.Labels).toEqual({ [CONSTRAINTS_LABEL]: 'node==x', [AFFINITIES_LABEL]: '{"a":1}' });
  });

  test('labels are written as Go marshals them (HTML-safe)', () => {
    expect(goJson(['a<b', 'c&d'])).toBe('["a\\u003cb","c\\u0026d"]');
    expect(JSON.parse(goJson(['a<b']))).toEqual(['a<b']);
  });
});

describe('parseCreateRequest: resources and the rest', () => {
  test('HostConfig fields', () => {
    const r = req(
      {
        Image: 'nginx:1.25',
        ExposedPorts: { '80/tcp': {}, '53/udp': {} },
        HostConfig: {
          Memory: 512 * 1024 * 1024,
          CpuShares: 2,
          PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '10.0.0.1', HostPort: '8081' }], '53/udp': null },
          NetworkMode: 'host',
          VolumesFrom: ['data:ro'],
          Links: ['db:database'],
        },
      },
      '/web',
    );
    expect(r.name).toBe('web');
    expect(r.image).toBe('nginx:1.25');
    expect(r.memory).toBe(512 * 1024 * 1024);
    expect(r.cpus).toBe(2);
    expect(r.portBindings).toEqual([
      { containerPort: '80/tcp', hostIp: '', hostPort: '8080' },
      { containerPort: '80/tcp', hostIp: '10.0.0.1', hostPort: '8081' },
    ]);
    expect(r.exposedPorts).toEqual(['80/tcp', '53/udp']);
    expect(r.networkMode).toBe('host');
    expect(r.volumesFrom).toEqual(['data:ro']);
    expect(r.links).toEqual(['db:database']);
  });

  test('legacy top-level Memory/MemorySwap/CpuShares/Cpuset win when non-zero and are dropped', () => {
    const r = req({ Memory: 1000, MemorySwap: 2000, CpuShares: 3, Cpuset: '0,1', HostConfig: { Memory: 5, CpuShares: 1 } });
    expect(r.memory).toBe(1000);
    expect(r.cpus).toBe(3);
    const hc = r.config.HostConfig as JsonObject;
    expect(hc.Memory).toBe(1000);
    expect(hc.MemorySwap).toBe(2000);
    expect(hc.CpuShares).toBe(3);
    expect(hc.CpusetCpus).toBe('0,1');
    for (const k of ['Memory', 'MemorySwap', 'CpuShares', 'Cpuset']) expect(k in r.config).toBe(false);
  });

  test('zero legacy fields leave HostConfig alone', () => {
    const r = req({ Memory: 0, CpuShares: 0, HostConfig: { Memory: 77, CpuShares: 2 } });
    expect(r.memory).toBe(77);
    expect(r.cpus).toBe(2);
  });

  test('MemorySwappiness defaults to -1, an explicit value is kept', () => {
    expect((req({}).config.HostConfig as JsonObject).MemorySwappiness).toBe(-1);
    expect((req({ HostConfig: { MemorySwappiness: 10 } }).config.HostConfig as JsonObject).MemorySwappiness).toBe(10);
  });

  test('defaults when absent; the body is not modified', () => {
    const body: JsonObject = { Image: 'x', Env: ['constraint:node==a1'] };
    const r = parseCreateRequest(body);
    expect(body).toEqual({ Image: 'x', Env: ['constraint:node==a1'] });
    expect(r).toMatchObject({ name: '', memory: 0, cpus: 0, portBindings: [], exposedPorts: [], networkMode: '', links: [], volumesFrom: [] });
  });

  test('a body that is not an object is refused', () => {
    expect(() => parseCreateRequest([])).toThrow(ApiError);
    try {
      parseCreateRequest('x');
    } catch (err) {
      expect((err as ApiError).status).toBe(400);
    }
    expect(() => parseCreateRequest(null)).toThrow('create body must be a JSON object');
  });
});

describe('CPU reinterpretation', () => {
  test('cpusToShares = ceil(n*1024/engineCpus)', () => {
    expect(cpusToShares(1, 4)).toBe(256);
    expect(cpusToShares(1, 3)).toBe(342);
    expect(cpusToShares(4, 4)).toBe(1024);
    expect(cpusToShares(0, 4)).toBe(0);
  });

  test('sharesToCpus = shares*engineCpus/1024 in integer math', () => {
    expect(sharesToCpus(256, 4)).toBe(1);
    expect(sharesToCpus(342, 3)).toBe(1);
    expect(sharesToCpus(1024, 8)).toBe(8);
    expect(sharesToCpus(100, 4)).toBe(0);
  });

  test('engineCreateBody converts HostConfig.CpuShares for the chosen engine only', () => {
    const r = req({ HostConfig: { CpuShares: 2 } });
    expect((engineCreateBody(r, 8).HostConfig as JsonObject).CpuShares).toBe(256);
    expect((r.config.HostConfig as JsonObject).CpuShares).toBe(2);
  });
});

describe('reschedule policies', () => {
  test('valid: none, off, on-node-failure', () => {
    expect(validateReschedulePolicies(req({}))).toBeNull();
    expect(validateReschedulePolicies(req({ Env: ['reschedule:off'] }))).toBeNull();
    const r = req({ Labels: { [RESCHEDULE_POLICIES_LABEL]: '["on-node-failure"]' } });
    expect(validateReschedulePolicies(r)).toBeNull();
    expect(r.reschedulePolicies).toEqual(['on-node-failure']);
  });

  test('v1 texts', () => {
    expect(validateReschedulePolicies(req({ Env: ['reschedule:off', 'reschedule:on-node-failure'] }))).toBe('too many reschedule policies');
    expect(validateReschedulePolicies(req({ Env: ['reschedule:always'] }))).toBe('invalid reschedule policy: always');
  });
});

describe('helpers', () => {
  test('hasHardNodeConstraint: node== but not node==~ nor node!=', () => {
    expect(hasHardNodeConstraint(req({ Env: ['constraint:node==n1'] }))).toBe(true);
    expect(hasHardNodeConstraint(req({ Env: ['constraint:node==~n1'] }))).toBe(false);
    expect(hasHardNodeConstraint(req({ Env: ['constraint:node!=n1'] }))).toBe(false);
  });

  test('addConstraint returns a copy with the label updated', () => {
    const r = req({ Env: ['constraint:region==us'] });
    const r2 = addConstraint(r, 'ostype==windows');
    expect(r2.constraints).toEqual(['region==us', 'ostype==windows']);
    expect((r2.config.Labels as JsonObject)[CONSTRAINTS_LABEL]).toBe('["region==us","ostype==windows"]');
    expect(r.constraints).toEqual(['region==us']);
    expect((r.config.Labels as JsonObject)[CONSTRAINTS_LABEL]).toBe('["region==us"]');
  });

  test('withLabel sets a label on labels and config', () => {
    const r = withLabel(req({}), 'com.docker.swarm.id', 'abc');
    expect(r.labels['com.docker.swarm.id']).toBe('abc');
    expect((r.config.Labels as JsonObject)['com.docker.swarm.id']).toBe('abc');
  });

  test('build args schedule like env: --build-arg constraint:node==n1', () => {
    const r = parseBuildRequest({ 'constraint:node': '=n1', FOO: 'bar', 'affinity:image': '=~nginx' }, { memory: 100 });
    expect(r.constraints).toEqual(['node==n1']);
    expect(r.affinities).toEqual(['image==~nginx']);
    expect(r.memory).toBe(100);
  });
});
