/**
 * The manager's whole Docker Remote API, one row per method and path, read top to bottom. Each row
 * says how the request is answered (its kind):
 *
 *   local        by the manager itself, from its own state: no engine is asked
 *   aggregated   from every engine's cached objects (or event stream), merged into one answer
 *   scheduled    by the engine the scheduler chooses for it
 *   proxied      by the one engine that holds the object, passed through (streams flushed as they come)
 *   hijacked     the connection is taken over and spliced to one engine byte for byte
 *   fanned-out   by every engine (or every engine holding the object), the answers merged
 *
 * The first row whose method and path match answers; `{name*}` matches across slashes (image names,
 * `<node>/<name>`). Every row also answers under `/v1.NN`: server.ts strips the prefix (and refuses a
 * version out of range) before the table is read. A known path under another method is a 405 naming
 * the allowed ones; a malformed escape in a path is a 400; any other path is a 404 (swarm mode's
 * `/swarm`, `/nodes`, `/services`…, and `/plugins`, as in v1).
 *
 * Answered before the table (server.ts): `OPTIONS` with --api-enable-cors, `GET /metrics` (bare
 * path only, unless --metrics-addr gives it a listener of its own), and on a replica every path but
 * `/_ping`, `/info` and `/version`, which go to the primary (replica.ts).
 */
import { attachHijack, commit, createContainerRoute, createExec, execProxy, inspectContainer, listContainersRoute, proxyAndRefresh, removeContainer, renameContainer, startContainer, startExec, startExecHijack, streamProxy } from './containers';
import { cancel as cancelBuild, grpcUpgrade, notUpgraded, sessionUpgrade } from './buildkit';
import { systemDf } from './disk-usage';
import { acrossCopies } from './global';
import { anyNode, build, imagesCreate, imagesGet, imagesLoad, imagesViz, listImagesRoute, removeImage, tag, toHolder } from './images';
import { connectOrDisconnect, createNetwork, createVolume, inspectNetwork, inspectVolume, listNetworksRoute, listVolumesRoute, removeNetwork, removeVolume } from './networks';
import { activateNode, drainNode, listNodes, NODES_PATH } from './nodes';
import { prune } from './prune';
import type { Handler, UpgradeHandler } from './router';
import { containerStats } from './stats';
import { events, info, ping, version } from './system';

/** How the manager answers a route (see the top of this file). */
export const ROUTE_KINDS = ['local', 'aggregated', 'scheduled', 'proxied', 'hijacked', 'fanned-out'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/** method, path, kind, handler, and for a hijacked route the handler of its upgraded connection. */
export type RouteRow = readonly [method: Method, path: string, kind: RouteKind, handler: Handler, upgrade?: UpgradeHandler];

export const ROUTES: readonly RouteRow[] = [
  // ---- the manager itself ----
  // HEAD /_ping is what docker CLI v28 tries first; v1 had no route for it (the CLI then fell back to GET).
  ['GET', '/_ping', 'local', ping],
  ['HEAD', '/_ping', 'local', ping],
  ['GET', '/version', 'local', version],
  ['GET', '/info', 'aggregated', info],
  ['GET', '/events', 'aggregated', events],
  ['GET', '/system/df', 'fanned-out', systemDf],

  // ---- containers ----
  ['GET', '/containers/json', 'aggregated', listContainersRoute],
  ['GET', '/containers/ps', 'aggregated', listContainersRoute],
  ['POST', '/containers/create', 'scheduled', createContainerRoute],
  ['POST', '/containers/prune', 'fanned-out', prune('/containers/prune')],
  ['GET', '/containers/{name*}/json', 'proxied', inspectContainer],
  // A global container's name acts on every copy (api/global.ts).
  ['POST', '/containers/{name*}/start', 'proxied', acrossCopies('start', startContainer)],
  ['POST', '/containers/{name*}/stop', 'proxied', acrossCopies('stop', proxyAndRefresh('stop'))],
  ['POST', '/containers/{name*}/kill', 'proxied', acrossCopies('kill', proxyAndRefresh('kill'))],
  ['POST', '/containers/{name*}/restart', 'proxied', acrossCopies('restart', proxyAndRefresh('restart'))],
  ['POST', '/containers/{name*}/pause', 'proxied', acrossCopies('pause', proxyAndRefresh('pause'))],
  ['POST', '/containers/{name*}/unpause', 'proxied', acrossCopies('unpause', proxyAndRefresh('unpause'))],
  ['DELETE', '/containers/{name*}', 'proxied', acrossCopies('rm', removeContainer)],
  ['POST', '/containers/{name*}/update', 'proxied', proxyAndRefresh('update')],
  ['POST', '/containers/{name*}/rename', 'proxied', renameContainer],
  ['POST', '/containers/{name*}/wait', 'proxied', streamProxy('/wait', true)], // the cache re-reads the container after
  ['GET', '/containers/{name*}/logs', 'proxied', streamProxy('/logs')],
  // Each sample named `<node>/<name>` (stats.ts).
  ['GET', '/containers/{name*}/stats', 'proxied', containerStats],
  ['GET', '/containers/{name*}/top', 'proxied', streamProxy('/top')],
  ['GET', '/containers/{name*}/changes', 'proxied', streamProxy('/changes')],
  ['GET', '/containers/{name*}/export', 'proxied', streamProxy('/export')],
  ['GET', '/containers/{name*}/archive', 'proxied', streamProxy('/archive')],
  ['HEAD', '/containers/{name*}/archive', 'proxied', streamProxy('/archive')],
  ['PUT', '/containers/{name*}/archive', 'proxied', streamProxy('/archive')],
  ['POST', '/containers/{name*}/copy', 'proxied', streamProxy('/copy')],
  ['POST', '/containers/{name*}/resize', 'proxied', streamProxy('/resize')],
  // dockerd hijacks attach even without an upgrade: the plain handler sends no body (it would reach
  // the container's stdin), then re-reads the container.
  ['POST', '/containers/{name*}/attach', 'hijacked', streamProxy('/attach', true, true), attachHijack],
  ['GET', '/containers/{name*}/attach/ws', 'hijacked', streamProxy('/attach/ws'), attachHijack],
  ['POST', '/containers/{name*}/exec', 'proxied', createExec],
  ['POST', '/exec/{id}/start', 'hijacked', startExec, startExecHijack],
  ['GET', '/exec/{id}/json', 'proxied', execProxy],
  ['POST', '/exec/{id}/resize', 'proxied', execProxy],
  ['POST', '/commit', 'proxied', commit],

  // ---- images ----
  ['GET', '/images/json', 'aggregated', listImagesRoute],
  ['POST', '/images/create', 'fanned-out', imagesCreate], // pull and import
  ['POST', '/images/load', 'fanned-out', imagesLoad],
  ['POST', '/images/prune', 'fanned-out', prune('/images/prune')],
  ['GET', '/images/get', 'proxied', imagesGet], // to an engine holding every image named
  ['GET', '/images/search', 'scheduled', anyNode],
  ['POST', '/auth', 'scheduled', anyNode],
  ['GET', '/images/viz', 'local', imagesViz],
  ['POST', '/images/{name*}/tag', 'fanned-out', tag],
  ['POST', '/images/{name*}/push', 'proxied', toHolder('/push')],
  ['GET', '/images/{name*}/json', 'proxied', toHolder('/json')],
  ['GET', '/images/{name*}/history', 'proxied', toHolder('/history')],
  ['GET', '/images/{name*}/get', 'proxied', toHolder('/get')],
  ['DELETE', '/images/{name*}', 'fanned-out', removeImage],

  // ---- builds (legacy /build, and BuildKit's gRPC and session, which buildx uses) ----
  ['POST', '/build', 'scheduled', build],
  ['POST', '/build/cancel', 'proxied', cancelBuild],
  ['POST', '/build/prune', 'fanned-out', prune('/build/prune')],
  ['POST', '/grpc', 'hijacked', notUpgraded, grpcUpgrade],
  ['POST', '/session', 'hijacked', notUpgraded, sessionUpgrade],

  // ---- networks ----
  ['GET', '/networks', 'aggregated', listNetworksRoute],
  ['POST', '/networks/create', 'scheduled', createNetwork],
  ['POST', '/networks/prune', 'fanned-out', prune('/networks/prune')],
  ['GET', '/networks/{id*}', 'proxied', inspectNetwork],
  ['POST', '/networks/{id*}/connect', 'proxied', connectOrDisconnect('connect')],
  ['POST', '/networks/{id*}/disconnect', 'proxied', connectOrDisconnect('disconnect')],
  ['DELETE', '/networks/{id*}', 'proxied', removeNetwork],

  // ---- volumes ----
  ['GET', '/volumes', 'aggregated', listVolumesRoute],
  ['POST', '/volumes/create', 'fanned-out', createVolume], // every node, or the nodes its labels choose
  ['POST', '/volumes/prune', 'fanned-out', prune('/volumes/prune')],
  ['GET', '/volumes/{name*}', 'proxied', inspectVolume],
  ['DELETE', '/volumes/{name*}', 'fanned-out', removeVolume], // every engine holding a volume of that name

  // ---- node availability (beyond v1; `swarm node ls|drain|activate`, nodes.ts) ----
  ['GET', NODES_PATH, 'local', listNodes],
  ['POST', `${NODES_PATH}/{node}/drain`, 'local', drainNode],
  ['POST', `${NODES_PATH}/{node}/activate`, 'local', activateNode],
];
