import { describe, expect, test } from 'bun:test';
import {
  applyLocalNetworkRule,
  clusterHasImage,
  CONSTRAINTS_LABEL,
  imageAffinityRetry,
  imageMatches,
  isImageNotFoundError,
  osMismatchOs,
  osMismatchRetry,
  parseRepositoryTag,
  placeContainer,
} from '../../../src/lib/scheduler';
import type { JsonObject, LocalNetwork } from '../../../src/lib/scheduler';
import { node, req } from './fixtures';

const local: LocalNetwork[] = [
  { node: 'node-1', name: 'bridge', id: 'b1b1b1b1b1b1b1b1' },
  { node: 'node-2', name: 'bridge', id: 'b2b2b2b2b2b2b2b2' },
  { node: 'node-2', name: 'mynet', id: 'abcdef0123456789abcdef' },
];

describe('local-scope network rule', () => {
  test('<node>/<net>: soft node constraint and bare NetworkMode', () => {
    const r = applyLocalNetworkRule(req({ HostConfig: { NetworkMode: 'node-1/bridge' } }), local);
    expect(r.constraints).toEqual(['node==~node-1']);
    expect(r.networkMode).toBe('bridge');
    expect((r.config.HostConfig as JsonObject).NetworkMode).toBe('bridge');
    expect((r.config.Labels as JsonObject)[CONSTRAINTS_LABEL]).toBe('["node==~node-1"]');
  });

  test('a unique local network name or (short) ID', () => {
    expect(applyLocalNetworkRule(req({ HostConfig: { NetworkMode: 'mynet' } }), local).constraints).toEqual(['node==~node-2']);
    const byId = applyLocalNetworkRule(req({ HostConfig: { NetworkMode: 'abcdef012345' } }), local);
    expect(byId.constraints).toEqual(['node==~node-2']);
    expect(byId.networkMode).toBe('mynet');
  });

  test('ambiguous or unknown names, empty mode: unchanged', () => {
    for (const mode of ['bridge', 'overlay-net', 'node-3/bridge', 'host', '']) {
      const r = req({ HostConfig: { NetworkMode: mode } });
      expect(applyLocalNetworkRule(r, local)).toBe(r);
    }
  });

  test('a hard node== constraint is kept and no soft one added; NetworkMode still rewritten', () => {
    const r = applyLocalNetworkRule(req({ Env: ['constraint:node==node-1'], HostConfig: { NetworkMode: 'node-2/mynet' } }), local);
    expect(r.constraints).toEqual(['node==node-1']);
    expect(r.networkMode).toBe('mynet');
  });

  test('the soft constraint steers placement, and yields when that node cannot take it', () => {
    const plain = req({ HostConfig: { NetworkMode: 'node-2/mynet' } });
    const r = applyLocalNetworkRule(plain, local);
    const p0 = placeContainer([node('node-1'), node('node-2')], plain);
    expect(p0.ok && p0.node.name).toBe('node-1'); // spread tie: first node
    const p1 = placeContainer([node('node-1'), node('node-2')], r);
    expect(p1.ok && p1.node.name).toBe('node-2');
    const p2 = placeContainer([node('node-1'), node('node-2', { healthIndicator: 0 })], r);
    expect(p2.ok && p2.softIgnored && p2.node.name).toBe('node-1');
  });
});

describe('OS mismatch retry', () => {
  const msg = 'Error response from daemon: image operating system "windows" cannot be used on this platform';

  test('extracts the OS and adds a hard ostype constraint', () => {
    expect(osMismatchOs(msg)).toBe('windows');
    const r = osMismatchRetry(req({ Env: ['constraint:region==eu'] }), msg);
    expect(r?.constraints).toEqual(['region==eu', 'ostype==windows']);
    expect((r?.config.Labels as JsonObject)[CONSTRAINTS_LABEL]).toBe('["region==eu","ostype==windows"]');
  });

  test('other errors: null', () => {
    expect(osMismatchOs('no such image')).toBeNull();
    expect(osMismatchRetry(req({}), 'Conflict. The container name is already in use')).toBeNull();
  });

  test('the retried request lands on a node of that OS', () => {
    const r = osMismatchRetry(req({}), msg)!;
    const nodes = [node('lin', { labels: { ostype: 'linux' } }), node('win', { labels: { ostype: 'windows' }, containers: [] })];
    const p = placeContainer(nodes, r);
    expect(p.ok && p.node.name).toBe('win');
  });
});

describe('image-not-found retry', () => {
  const nodes = [
    node('a'),
    node('b', { images: [{ id: 'sha256:feedbeef0000', repoTags: ['myorg/app:1.0'], repoDigests: ['myorg/app@sha256:0123'] }] }),
  ];

  test('message patterns', () => {
    expect(isImageNotFoundError('Error: image myorg/app:1.0 not found')).toBe(true);
    expect(isImageNotFoundError('repository myorg/app not found: does not exist or no pull access')).toBe(true);
    expect(isImageNotFoundError('pull access denied, repository does not exist or may require login')).toBe(true);
    expect(isImageNotFoundError('No such container: x')).toBe(false);
  });

  test('adds image==<image> for that attempt only (labels untouched)', () => {
    const r = req({ Image: 'myorg/app:1.0', Env: ['affinity:container!=x1'] });
    const retry = imageAffinityRetry(r, 'image myorg/app:1.0 not found', nodes);
    expect(retry?.affinities).toEqual(['container!=x1', 'image==myorg/app:1.0']);
    expect(retry?.config).toBe(r.config);
    expect(retry?.labels).toEqual(r.labels);
    const p = placeContainer(nodes, retry!);
    expect(p.ok && p.node.name).toBe('b');
  });

  test('not when a hard node== constraint exists, no node has the image, or the error is different', () => {
    const msg = 'image myorg/app:1.0 not found';
    expect(imageAffinityRetry(req({ Image: 'myorg/app:1.0', Env: ['constraint:node==a'] }), msg, nodes)).toBeNull();
    expect(imageAffinityRetry(req({ Image: 'myorg/app:1.0', Env: ['constraint:node==~a'] }), msg, nodes)).not.toBeNull();
    expect(imageAffinityRetry(req({ Image: 'other:1' }), 'image other:1 not found', nodes)).toBeNull();
    expect(imageAffinityRetry(req({ Image: 'myorg/app:1.0' }), 'permission denied', nodes)).toBeNull();
  });

  test('image lookup: tag, no tag, ID prefix, digest, docker.io prefix', () => {
    expect(clusterHasImage(nodes, 'myorg/app')).toBe(true);
    expect(clusterHasImage(nodes, 'docker.io/myorg/app:1.0')).toBe(true);
    expect(clusterHasImage(nodes, 'myorg/app:2.0')).toBe(false);
    expect(clusterHasImage(nodes, 'feedbeef')).toBe(true);
    expect(clusterHasImage(nodes, 'fe')).toBe(false);
    expect(imageMatches(nodes[1]!.images[0]!, 'myorg/app@sha256:0123')).toBe(true);
  });

  test('parseRepositoryTag', () => {
    expect(parseRepositoryTag('redis:7')).toEqual(['redis', '7']);
    expect(parseRepositoryTag('redis')).toEqual(['redis', '']);
    expect(parseRepositoryTag('reg:5000/redis')).toEqual(['reg:5000/redis', '']);
    expect(parseRepositoryTag('reg:5000/redis:7')).toEqual(['reg:5000/redis', '7']);
    expect(parseRepositoryTag('redis@sha256:ab')).toEqual(['redis', 'sha256:ab']);
  });
});
