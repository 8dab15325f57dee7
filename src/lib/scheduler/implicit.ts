/**
 * v1's implicit placement rules that need no I/O (cluster/swarm/cluster.go): the local-network rule
 * applied before scheduling, and the two create-retry rewrites the manager applies after an engine
 * refuses a create.
 */
import { clusterHasImage, truncateId } from './lookup';
import { addAffinity, addConstraint, hasHardNodeConstraint, withNetworkMode } from './request';
import type { ContainerRequest, NodeSnapshot } from './types';

/** A local-scope network on one engine (bridge, host, none, user-defined bridge networks...). */
export interface LocalNetwork {
  /** The engine's name (what `node==` matches and what `<node>/<net>` prefixes). */
  node: string;
  name: string;
  id?: string;
}

/**
 * `--net <node>/<net>` or `--net <local network name or ID>` that designates exactly one local network:
 * adds the soft constraint `node==~<engine>` (unless a hard `node==` constraint exists) and rewrites
 * NetworkMode to the bare network name. Ambiguous names (e.g. `bridge`, local on every engine) and
 * anything else leave the request unchanged.
 */
export function applyLocalNetworkRule(request: ContainerRequest, localNetworks: readonly LocalNetwork[]): ContainerRequest {
  const mode = request.networkMode;
  if (mode === '') return request;
  let network = localNetworks.find((n) => n.id !== undefined && n.id !== '' && (n.id === mode || truncateId(n.id) === mode));
  if (!network) {
    const byName = localNetworks.filter((n) => n.name === mode || `${n.node}/${n.name}` === mode);
    if (byName.length !== 1) return request;
    network = byName[0]!;
  }
  let out = request;
  if (!hasHardNodeConstraint(out)) out = addConstraint(out, `node==~${network.node}`);
  return withNetworkMode(out, network.name);
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
