/**
 * v1's implicit placement rules that need no I/O (cluster/swarm/cluster.go): the local-network rule
 * applied before scheduling, and the two create-retry rewrites the manager applies after an engine
 * refuses a create. Beyond v1, the locality rules: a container needs the engines that hold its local
 * networks (hard) and prefers the one that holds its named volumes (soft).
 */
import { ExpressionError, parseExpression } from './expression';
import { clusterHasImage } from './lookup';
import { truncateId } from './reference';
import { addAffinity, addConstraint, addWhitelist, hasHardNodeConstraint, withNetworkMode } from './request';
import type { ContainerRequest, JsonObject, JsonValue, LocalityRequirement, NodeSnapshot } from './types';

/** A local-scope network on one engine (bridge, host, none, user-defined bridge networks...). */
export interface LocalNetwork {
  /** The engine's name (what `node==` matches and what `<node>/<net>` prefixes). */
  node: string;
  name: string;
  id?: string;
}

/** A volume on one engine. */
interface LocalVolume {
  node: string;
  name: string;
  /** `local` for the engine's own volumes; other drivers are shared and place nothing. */
  driver: string;
}

/** What the manager's caches say about where things live, for the locality rules. */
export interface Locality {
  /** Every registered node's name. */
  nodes: string[];
  /** Every local-scope network of every node. */
  networks: LocalNetwork[];
  /** Names and IDs of the multi-host (global or swarm scope) networks: usable on any node. */
  sharedNetworks: string[];
  volumes: LocalVolume[];
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function endpointsConfig(config: JsonObject): JsonObject | undefined {
  const nc = config.NetworkingConfig;
  if (!isObject(nc)) return undefined;
  const ec = nc.EndpointsConfig;
  return isObject(ec) ? ec : undefined;
}

/**
 * NetworkingConfig.EndpointsConfig keys written `<node>/<net>` (what `--net node-1/n --network-alias x`
 * sends) renamed to the bare network name the engine knows; other keys kept. Undefined when none is.
 */
function bareEndpoints(config: JsonObject, localNetworks: readonly LocalNetwork[]): JsonObject | undefined {
  const ec = endpointsConfig(config);
  if (!ec) return undefined;
  let changed = false;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(ec)) {
    const network = key.includes('/') ? localNetworks.find((n) => `${n.node}/${n.name}` === key) : undefined;
    const bare = network && !(network.name in ec) ? network.name : key;
    if (bare !== key) changed = true;
    out[bare] = value;
  }
  return changed ? out : undefined;
}

/**
 * `--net <node>/<net>` or `--net <local network name or ID>` that designates exactly one local network:
 * adds the soft constraint `node==~<engine>` (unless a hard `node==` constraint exists) and rewrites
 * NetworkMode to the bare network name; `<node>/<net>` keys of EndpointsConfig become bare names too.
 * Ambiguous names (e.g. `bridge`, local on every engine) and anything else leave the request unchanged.
 */
export function applyLocalNetworkRule(request: ContainerRequest, localNetworks: readonly LocalNetwork[]): ContainerRequest {
  let out = request;
  const endpoints = bareEndpoints(request.config, localNetworks);
  if (endpoints) {
    const config = structuredClone(request.config);
    (config.NetworkingConfig as JsonObject).EndpointsConfig = endpoints;
    out = { ...out, config };
  }
  const mode = out.networkMode;
  if (mode === '') return out;
  let network = localNetworks.find((n) => n.id !== undefined && n.id !== '' && (n.id === mode || truncateId(n.id) === mode));
  if (!network) {
    const byName = localNetworks.filter((n) => n.name === mode || `${n.node}/${n.name}` === mode);
    if (byName.length !== 1) return out;
    network = byName[0]!;
  }
  if (!hasHardNodeConstraint(out)) out = addConstraint(out, `node==~${network.node}`);
  return withNetworkMode(out, network.name);
}

/** The networks a create names: NetworkMode and the EndpointsConfig keys, without built-in modes. */
function networkRefs(request: ContainerRequest): string[] {
  const refs = new Set<string>();
  const mode = request.networkMode;
  if (mode !== '' && mode !== 'default' && !mode.startsWith('container:')) refs.add(mode);
  for (const key of Object.keys(endpointsConfig(request.config) ?? {})) if (key !== '') refs.add(key);
  return [...refs];
}

function distinct(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Whether `nodes` names every node of the cluster (Sets: a cluster may have a thousand). */
function coversAll(nodes: readonly string[], locality: Locality): boolean {
  if (nodes.length < locality.nodes.length) return false;
  const held = new Set(nodes);
  return locality.nodes.every((name) => held.has(name));
}

/**
 * Where each local network of the request lives, when that is not every node: a reference resolved as
 * an engine resolves it (ID, short ID, name, or `<node>/<name>`; then an ID prefix) on each node. A
 * name that also names a multi-host network, or that no node knows, requires nothing (the engine
 * answers for it).
 */
export function networkRequirements(request: ContainerRequest, locality: Locality): LocalityRequirement[] {
  const out: LocalityRequirement[] = [];
  for (const ref of networkRefs(request)) {
    if (locality.sharedNetworks.some((s) => s === ref || (s.length > 12 && truncateId(s) === ref))) continue;
    let hits = locality.networks.filter(
      (n) => n.name === ref || `${n.node}/${n.name}` === ref || (n.id !== undefined && n.id !== '' && (n.id === ref || truncateId(n.id) === ref)),
    );
    if (hits.length === 0 && /^[0-9a-f]+$/.test(ref)) hits = locality.networks.filter((n) => n.id !== undefined && n.id.startsWith(ref));
    const nodes = distinct(hits.map((n) => n.node));
    if (nodes.length === 0 || coversAll(nodes, locality)) continue;
    const names = distinct(hits.map((n) => n.name));
    out.push({ what: `network ${names.length === 1 ? names[0]! : ref}`, nodes });
  }
  return out;
}

/** Named volumes a create mounts with the local driver: `-v name:/path` (Binds) and volume Mounts. */
export function namedVolumes(request: ContainerRequest): string[] {
  const hc = request.config.HostConfig;
  if (!isObject(hc)) return [];
  const out: string[] = [];
  const driver = typeof hc.VolumeDriver === 'string' ? hc.VolumeDriver : '';
  if ((driver === '' || driver === 'local') && Array.isArray(hc.Binds)) {
    for (const bind of hc.Binds) {
      if (typeof bind !== 'string') continue;
      const source = bind.split(':')[0]!;
      // A path (or nothing) is a bind mount, not a volume name.
      if (source !== '' && !source.includes('/') && bind.includes(':')) out.push(source);
    }
  }
  if (Array.isArray(hc.Mounts)) {
    for (const m of hc.Mounts) {
      if (!isObject(m) || m.Type !== 'volume' || typeof m.Source !== 'string' || m.Source === '') continue;
      const options = isObject(m.VolumeOptions) ? m.VolumeOptions : {};
      const dc = isObject(options.DriverConfig) ? options.DriverConfig : {};
      if (typeof dc.Name === 'string' && dc.Name !== '' && dc.Name !== 'local') continue;
      out.push(m.Source);
    }
  }
  return distinct(out);
}

function parses(text: string): boolean {
  try {
    parseExpression(text);
    return true;
  } catch (err) {
    if (err instanceof ExpressionError) return false;
    throw err;
  }
}

/**
 * Beyond v1: a named volume that exists on some nodes only draws its container there, softly, as a
 * local network does: `node==~<node>` when one node holds it, the soft whitelist `node==~a|b` when a
 * few do. A volume on every node (or on none yet) adds nothing, nor does any volume when a hard
 * `node==` constraint exists.
 */
export function applyLocalVolumeRule(request: ContainerRequest, locality: Locality): ContainerRequest {
  if (hasHardNodeConstraint(request)) return request;
  let out = request;
  for (const name of namedVolumes(request)) {
    const nodes = distinct(locality.volumes.filter((v) => v.name === name && v.driver === 'local').map((v) => v.node));
    if (nodes.length === 0 || coversAll(nodes, locality)) continue;
    const expr = `node==~${nodes.join('|')}`;
    if (!parses(expr)) continue;
    if (nodes.length === 1) {
      if (!out.constraints.includes(expr)) out = addConstraint(out, expr);
    } else if (!out.whitelists.includes(expr)) {
      out = addWhitelist(out, expr);
    }
  }
  return out;
}

/**
 * Every implicit rule that depends on where things live, in order: the hard network requirements
 * (worked out on the names as given), v1's local-network rule, then the volume rule.
 */
export function applyLocalityRules(request: ContainerRequest, locality: Locality): ContainerRequest {
  const requirements = networkRequirements(request, locality);
  let out = applyLocalNetworkRule(request, locality.networks);
  out = applyLocalVolumeRule(out, locality);
  return requirements.length > 0 ? { ...out, locality: [...(out.locality ?? []), ...requirements] } : out;
}

const OS_MISMATCH = /image operating system "([^"]*)" cannot be used on this platform/;

/** The OS named by an engine's `image operating system "X" cannot be used on this platform`, or null. */
export function osMismatchOs(errorMessage: string): string | null {
  const m = OS_MISMATCH.exec(errorMessage);
  return m ? m[1]! : null;
}

/**
 * Retry rule (a): after an OS-mismatch create error, the request to retry once with the hard constraint
 * `ostype==<os>`; null when the error is something else.
 */
export function osMismatchRetry(request: ContainerRequest, errorMessage: string): ContainerRequest | null {
  const os = osMismatchOs(errorMessage);
  return os === null || os === '' ? null : addConstraint(request, `ostype==${os}`);
}

const IMAGE_NOT_FOUND = [/image \S* not found/, /repository \S* not found/, /repository does not exist/];

/** Whether an engine error reads like a missing image (`image … not found`, `repository … not found`, ...). */
export function isImageNotFoundError(errorMessage: string): boolean {
  return IMAGE_NOT_FOUND.some((re) => re.test(errorMessage));
}

/**
 * Retry rule (b): after an image-not-found create error, when the request has no hard `node==`
 * constraint and some node holds the image, the request to retry with the affinity `image==<image>`
 * (for that attempt only: the label written to the engine is left as it was); otherwise null.
 */
export function imageAffinityRetry(
  request: ContainerRequest,
  errorMessage: string,
  nodes: readonly NodeSnapshot[],
): ContainerRequest | null {
  if (!isImageNotFoundError(errorMessage) || hasHardNodeConstraint(request)) return null;
  if (request.image === '' || !clusterHasImage(nodes, request.image)) return null;
  const withAffinity = addAffinity(request, `image==${request.image}`);
  return { ...withAffinity, labels: request.labels, config: request.config };
}
