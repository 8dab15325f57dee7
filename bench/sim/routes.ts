/**
 * The Engine API routes one simulated engine serves, top to bottom; anything else is dockerd's
 * 404 "page not found" (exec, stats, archive, build, swarm mode, plugins...).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError } from '../../src/lib/errors';
import { readJsonObject, truthy } from '../../src/lib/api/respond';
import { compareApiVersions, stripVersionPrefix } from '../../src/lib/engine/version';
import { createNetwork, createVolume, pull, removeImage, removeNetwork, removeVolume } from './changes';
import { inspectJson, listContainers, topJson } from './containers-view';
import { createContainer } from './create';
import { infoBody, versionJson } from './engine-info';
import { sendEmpty, sendJson, sendRaw } from './http';
import { imageInspect, imageList, imageNotFound, pullProgress, validReference } from './images';
import type { JsonObject } from './json';
import * as life from './lifecycle';
import { networkJson } from './networks';
import type { EngineState } from './state';
import { logs, wait } from './streams';
import { volumeInspect, volumeList } from './volumes';

/** The API version a request asks for (`/v1.41/...`), refused outside the engine's own range (not the manager's, as refusedClientVersion has it). */
function apiVersionOf(s: EngineState, rawPath: string): { apiVersion: string; path: string } {
  const { version, path } = stripVersionPrefix(rawPath);
  if (version === undefined) return { apiVersion: s.p.apiVersion, path };
  if (compareApiVersions(s.p.apiVersion, version) < 0) throw new ApiError(400, `client version ${version} is too new. Maximum supported API version is ${s.p.apiVersion}`);
  if (compareApiVersions(version, s.p.minApiVersion) < 0) {
    throw new ApiError(400, `client version ${version} is too old. Minimum supported API version is ${s.p.minApiVersion}, please upgrade your client to a newer version`);
  }
  return { apiVersion: version, path };
}

/** `sockets`: the engine's open connections, for /info. */
export function route(s: EngineState, req: IncomingMessage, res: ServerResponse, sockets: number): void | Promise<void> {
  const url = req.url ?? '/';
  const qi = url.indexOf('?');
  const q = new URLSearchParams(qi < 0 ? '' : url.slice(qi + 1));
  let { apiVersion, path } = apiVersionOf(s, qi < 0 ? url : url.slice(0, qi));
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  const method = req.method ?? 'GET';
  const seg = path.split('/').map((x) => {
    try {
      return decodeURIComponent(x);
    } catch {
      return x;
    }
  });
  const top = seg[1] ?? '';
  const id = seg[2] ?? '';

  if (top === '_ping' && seg.length === 2 && (method === 'GET' || method === 'HEAD')) {
    res.writeHead(200, { 'Cache-Control': 'no-cache, no-store, must-revalidate', Pragma: 'no-cache', 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': '2' });
    res.end(method === 'HEAD' ? undefined : 'OK');
    return;
  }
  if (method === 'GET' && seg.length === 2) {
    if (top === 'version') return sendJson(res, 200, versionJson(s.p));
    if (top === 'info') return sendRaw(res, 200, infoBody(s, sockets));
    if (top === 'events') return s.events.subscribe(res, q);
    if (top === 'networks') return sendJson(res, 200, s.networks.list(q));
    if (top === 'volumes') return sendJson(res, 200, volumeList(s.volumes, s.containers.values(), q));
  }
  if (top === 'containers') {
    if (seg.length === 3 && method === 'GET' && id === 'json') return sendRaw(res, 200, listContainers(s, q));
    if (seg.length === 3 && method === 'POST' && id === 'create') {
      return readJsonObject<JsonObject>(req, {}).then((body) => sendJson(res, 201, { Id: createContainer(s, q.get('name'), body).id, Warnings: [] }));
    }
    if (seg.length === 3 && method === 'POST' && id === 'prune') {
      req.resume();
      return sendJson(res, 200, life.prune(s, q));
    }
    if (seg.length === 3 && method === 'DELETE') {
      req.resume();
      life.remove(s, s.lookup(id), truthy(q.get('force')), truthy(q.get('v')));
      return sendEmpty(res, 204);
    }
    if (seg.length === 4) {
      const action = seg[3];
      if (method === 'GET' && action === 'json') return sendJson(res, 200, inspectJson(s, s.lookup(id), truthy(q.get('size'))));
      if (method === 'GET' && action === 'logs') return logs(s.lookup(id), res, q);
      if (method === 'GET' && action === 'top') return sendJson(res, 200, topJson(s.lookup(id)));
      if (method === 'POST') {
        req.resume();
        const c = s.lookup(id);
        switch (action) {
          case 'start':
            return sendEmpty(res, life.start(s, c) ? 204 : 304);
          case 'stop':
            return sendEmpty(res, life.stop(s, c, q.get('signal')) ? 204 : 304);
          case 'kill':
            life.kill(s, c, q.get('signal'));
            return sendEmpty(res, 204);
          case 'restart':
            life.restart(s, c);
            return sendEmpty(res, 204);
          case 'pause':
            life.pause(s, c);
            return sendEmpty(res, 204);
          case 'unpause':
            life.unpause(s, c);
            return sendEmpty(res, 204);
          case 'rename':
            life.rename(s, c, q.get('name'));
            return sendEmpty(res, 204);
          case 'wait':
            return wait(c, res, q, apiVersion);
          default:
            break;
        }
      }
    }
  }
  if (top === 'images') {
    if (method === 'GET' && seg.length === 3 && id === 'json') return sendJson(res, 200, imageList(s.images, s.containers.values(), q, s.p));
    if (method === 'GET' && seg.length >= 4 && seg[seg.length - 1] === 'json') {
      const ref = seg.slice(2, -1).join('/');
      const img = s.lookupImage(ref);
      if (!img) throw imageNotFound(ref);
      return sendJson(res, 200, imageInspect(img, s.p));
    }
    if (method === 'POST' && seg.length === 3 && id === 'create') return handlePull(s, req, res, q);
    if (method === 'DELETE' && seg.length >= 3) return sendJson(res, 200, removeImage(s, seg.slice(2).join('/'), truthy(q.get('force'))));
  }
  if (top === 'networks' && seg.length === 3) {
    if (method === 'POST' && id === 'create') return readJsonObject<JsonObject>(req, {}).then((b) => sendJson(res, 201, createNetwork(s, b)));
    if (method === 'GET') return sendJson(res, 200, networkJson(s.networks.lookupOrThrow(id), s.containers.values(), true));
    if (method === 'DELETE') {
      req.resume();
      removeNetwork(s, id);
      return sendEmpty(res, 204);
    }
  }
  if (top === 'volumes' && seg.length === 3) {
    if (method === 'POST' && id === 'create') return readJsonObject<JsonObject>(req, {}).then((b) => sendJson(res, 201, createVolume(s, b)));
    if (method === 'GET') return sendJson(res, 200, volumeInspect(s.volumes, id));
    if (method === 'DELETE') {
      req.resume();
      removeVolume(s, id);
      return sendEmpty(res, 204);
    }
  }
  req.resume();
  throw new ApiError(404, 'page not found');
}

/** POST /images/create?fromImage=...: the progress lines of a pull that always succeeds. */
function handlePull(s: EngineState, req: IncomingMessage, res: ServerResponse, q: URLSearchParams): void {
  req.resume();
  const from = q.get('fromImage') ?? '';
  if (!from) throw new ApiError(400, 'only pulling by image name (fromImage) is supported by the simulator');
  const tagParam = q.get('tag') ?? '';
  let ref = from;
  if (tagParam) ref = tagParam.startsWith('sha256:') ? `${from}@${tagParam}` : `${from}:${tagParam}`;
  if (!validReference(ref)) throw new ApiError(400, `invalid reference format${/[A-Z]/.test(ref) ? ': repository name must be lowercase' : ''}`);
  const { image, fresh, tag } = pull(s, ref);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(pullProgress(image, tag, fresh).map((l) => `${JSON.stringify(l)}\r\n`).join(''));
}
