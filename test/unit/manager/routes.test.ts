/** The route table (api/routes.ts) and how a request is matched against it (api/router.ts). */
import { describe, expect, test } from 'bun:test';
import { ApiError } from '../../../src/lib/errors';
import { Router } from '../../../src/lib/api/router';
import { ROUTE_KINDS, ROUTES, type RouteKind } from '../../../src/lib/api/routes';

const router = new Router(ROUTES);

/** A concrete path for a pattern: each parameter becomes `p`. */
const sample = (pattern: string) => pattern.replace(/\{\w+\*?\}/g, 'p');

describe('the route table', () => {
  test('no (method, path) twice; every kind is one of ROUTE_KINDS; hijacked rows, and only they, upgrade', () => {
    const keys = ROUTES.map(([method, path]) => `${method} ${path}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    for (const [method, path, kind, , upgrade] of ROUTES) {
      expect({ method, path, kind: ROUTE_KINDS.includes(kind) }).toEqual({ method, path, kind: true });
      expect({ method, path, upgrades: upgrade !== undefined }).toEqual({ method, path, upgrades: kind === 'hijacked' });
    }
  });

  test('no row is hidden by an earlier one', () => {
    for (const [method, path] of ROUTES) expect({ method, path, matched: router.match(method, sample(path))?.route.pattern }).toEqual({ method, path, matched: path });
  });

  test('well-known paths resolve to the kind of answer they get', () => {
    const cases: [string, string, RouteKind][] = [
      ['GET', '/_ping', 'local'],
      ['HEAD', '/_ping', 'local'],
      ['GET', '/version', 'local'],
      ['GET', '/info', 'aggregated'],
      ['GET', '/events', 'aggregated'],
      ['GET', '/containers/json', 'aggregated'],
      ['POST', '/containers/create', 'scheduled'],
      ['POST', '/containers/web/start', 'proxied'],
      ['POST', '/containers/node-1/web/start', 'proxied'],
      ['GET', '/containers/web/logs', 'proxied'],
      ['GET', '/containers/web/stats', 'proxied'],
      ['POST', '/containers/web/attach', 'hijacked'],
      ['POST', '/containers/web/exec', 'proxied'],
      ['POST', '/exec/0123abcd/start', 'hijacked'],
      ['POST', '/build', 'scheduled'],
      ['POST', '/grpc', 'hijacked'],
      ['POST', '/session', 'hijacked'],
      ['POST', '/images/create', 'fanned-out'],
      ['GET', '/images/10.99.0.1:5000/busybox/json', 'proxied'],
      ['POST', '/networks/create', 'scheduled'],
      ['POST', '/volumes/create', 'fanned-out'],
      ['POST', '/containers/prune', 'fanned-out'],
      ['GET', '/system/df', 'fanned-out'],
      ['POST', '/_swarm/nodes/node-1/drain', 'local'],
    ];
    for (const [method, path, kind] of cases) expect({ method, path, kind: router.match(method, path)?.route.kind }).toEqual({ method, path, kind });
  });

  test('parameters are decoded, `{name*}` across slashes', () => {
    expect(router.match('GET', '/images/10.99.0.1:5000/busybox/json')?.params).toEqual({ name: '10.99.0.1:5000/busybox' });
    expect(router.match('POST', '/containers/node-1%2Fweb/stop')?.params).toEqual({ name: 'node-1/web' });
  });

  test('a known path under another method names the allowed ones (405); an unknown path none (404)', () => {
    expect(router.match('POST', '/_ping')).toBeUndefined();
    expect(router.methodsAt('/_ping')).toEqual(['GET', 'HEAD']);
    expect(router.methodsAt('/build')).toEqual(['POST']);
    expect(router.methodsAt('/_swarm/nodes')).toEqual(['GET']);
    // `DELETE /containers/{name*}` takes any name, `create` too: as on dockerd.
    expect(router.methodsAt('/containers/create')).toEqual(['POST', 'DELETE']);
    expect(router.methodsAt('/no/such/path')).toEqual([]);
  });

  test('a malformed escape in a path is a 400', () => {
    let err: unknown;
    try {
      router.match('GET', '/containers/%zz/json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toContain('malformed escape');
  });
});
