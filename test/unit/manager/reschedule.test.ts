/** The rescheduler's pure decisions: which containers move, the body that recreates them, which copies are stale. */
import { describe, expect, test } from 'bun:test';
import type { CachedContainer } from '../../../src/lib/engine/engine';
import { containerName, containersToReschedule, hasReschedulePolicy, isRunning, networkCopyBody, recreateBody, staleCopies, swarmIdOf } from '../../../src/lib/manager/reschedule';
import { parseCreateRequest } from '../../../src/lib/scheduler/index';

function container(id: string, labels: Record<string, string>, extra: Record<string, unknown> = {}): CachedContainer {
  return {
    id,
    summary: { Id: id, Names: ['/n-' + id], Labels: labels, State: 'running', Created: 1000 },
    inspect: {
      Id: id,
      Name: '/n-' + id,
      Created: '2026-01-01T00:00:00.000Z',
      State: { Running: true, Status: 'running' },
      Config: { Image: 'busybox', Hostname: id.slice(0, 12), Cmd: ['sleep', '600'], Env: ['A=1'], Labels: labels },
      HostConfig: { CpuShares: 512, Memory: 64 << 20, NetworkMode: 'default', RestartPolicy: { Name: 'no' } },
      NetworkSettings: { Networks: {} },
      ...extra,
    },
  };
}

const POLICY = { 'com.docker.swarm.reschedule-policies': '["on-node-failure"]', 'com.docker.swarm.id': 'sid1' };

describe('rescheduling decisions', () => {
  test('the label written by the request parser (from -e reschedule:on-node-failure) is what counts', () => {
    const req = parseCreateRequest({ Image: 'busybox', Env: ['reschedule:on-node-failure', 'A=1'] });
    const labels = req.labels;
    expect(hasReschedulePolicy(container('a'.repeat(64), labels))).toBe(true);
    expect(hasReschedulePolicy(container('b'.repeat(64), { 'com.docker.swarm.reschedule-policies': '["off"]' }))).toBe(false);
    expect(hasReschedulePolicy(container('c'.repeat(64), {}))).toBe(false);
    expect(hasReschedulePolicy(container('d'.repeat(64), { 'com.docker.swarm.reschedule-policies': 'garbage' }))).toBe(false);
    const list = [container('a'.repeat(64), POLICY), container('b'.repeat(64), {})];
    expect(containersToReschedule(list).map((c) => c.id)).toEqual(['a'.repeat(64)]);
  });

  test('recreate body: same config, labels (swarm id, policy), CPUs read back, fresh hostname', () => {
    const c = container('e'.repeat(64), POLICY);
    const body = recreateBody(c, 4);
    expect(body.Image).toBe('busybox');
    expect(body.Cmd).toEqual(['sleep', '600']);
    expect(body.Labels).toEqual(POLICY);
    expect(body.Hostname).toBeUndefined();
    expect((body.HostConfig as { CpuShares: number }).CpuShares).toBe(2); // 512 shares on 4 CPUs = 2 CPUs
    expect((body.HostConfig as { Memory: number }).Memory).toBe(64 << 20);
    expect(body.NetworkingConfig).toBeUndefined();
    expect(containerName(c)).toBe('n-' + 'e'.repeat(64));
    expect(swarmIdOf(c)).toBe('sid1');
    expect(isRunning(c)).toBe(true);
    // Through the scheduler's parser: the swarm ID and the policy survive.
    const again = parseCreateRequest(body, containerName(c));
    expect(again.labels['com.docker.swarm.id']).toBe('sid1');
    expect(again.reschedulePolicies).toEqual(['on-node-failure']);
  });

  test('user-defined network endpoint kept without the old short-ID alias', () => {
    const id = 'f'.repeat(64);
    const c = container(id, POLICY, {
      HostConfig: { NetworkMode: 'appnet' },
      NetworkSettings: { Networks: { appnet: { Aliases: [id.slice(0, 12), 'web'], IPAMConfig: null, Links: null } } },
    });
    expect(recreateBody(c, 2).NetworkingConfig).toEqual({ EndpointsConfig: { appnet: { IPAMConfig: null, Links: null, Aliases: ['web'] } } });
  });

  test('stale copies: same swarm id elsewhere in a newer copy', () => {
    const old = container('1'.repeat(64), POLICY);
    const other = container('2'.repeat(64), { 'com.docker.swarm.id': 'sid2' });
    const moved = container('3'.repeat(64), POLICY, { Created: '2026-01-01T00:05:00.000Z' });
    expect(staleCopies([old, other], [moved]).map((c) => c.id)).toEqual([old.id]);
    // The newer copy is never the stale one.
    expect(staleCopies([moved], [old])).toEqual([]);
    expect(staleCopies([other], [moved])).toEqual([]);
    expect(staleCopies([container('4'.repeat(64), {})], [container('5'.repeat(64), {})])).toEqual([]);
  });

  test("a compose project's network is copied with its name, driver, options, labels and IPAM", () => {
    const net = {
      Id: 'n'.repeat(64),
      Name: 'proj_default',
      Driver: 'bridge',
      Scope: 'local',
      Internal: false,
      Attachable: true,
      EnableIPv6: false,
      Options: { 'com.docker.network.driver.mtu': '1400' },
      Labels: { 'com.docker.compose.project': 'proj', 'com.docker.compose.network': 'default' },
      IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.30.0.0/16', Gateway: '172.30.0.1' }] },
    };
    expect(networkCopyBody(net, true)).toEqual({
      Name: 'proj_default',
      CheckDuplicate: true,
      Driver: 'bridge',
      Internal: false,
      Attachable: true,
      EnableIPv6: false,
      Options: { 'com.docker.network.driver.mtu': '1400' },
      Labels: { 'com.docker.compose.project': 'proj', 'com.docker.compose.network': 'default' },
      IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '172.30.0.0/16', Gateway: '172.30.0.1' }] },
    });
    // Without subnets, for a node where that one is taken: the engine picks one.
    expect((networkCopyBody(net, false).IPAM as { Config: unknown[] }).Config).toEqual([]);
  });
});
