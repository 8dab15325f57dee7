/**
 * Discovery backends by URL scheme. Each backend lives in its own file and is loaded only when its
 * scheme is used, so heavy clients (etcd, consul, zookeeper) cost nothing to the other commands.
 * Adding a backend: write its file, add one line here.
 */
import { UserError } from '../errors';
import type { Discovery, DiscoveryConfig, DiscoveryFactory } from './types';

const backends: Record<string, () => Promise<DiscoveryFactory>> = {
  nodes: async () => (await import('./nodes')).createNodesDiscovery,
  file: async () => (await import('./file')).createFileDiscovery,
  token: async () => (await import('./token')).createTokenDiscovery,
  etcd: async () => (await import('./etcd')).createEtcdDiscovery,
  consul: async () => (await import('./consul')).createConsulDiscovery,
  zk: async () => (await import('./zk')).createZkDiscovery,
};

function supportedSchemes(): string[] {
  return Object.keys(backends);
}

export interface DiscoveryUrl {
  scheme: string;
  rest: string;
}

/** Splits `scheme://rest`; a URL without `://` is a `nodes` list, as in Swarm v1. */
export function parseDiscoveryUrl(url: string): DiscoveryUrl {
  const text = url.trim();
  if (!text) throw new UserError('discovery URL is empty');
  const i = text.indexOf('://');
  if (i < 0) return { scheme: 'nodes', rest: text };
  const scheme = text.slice(0, i).toLowerCase();
  if (!(scheme in backends)) {
    throw new UserError(`unsupported discovery scheme "${scheme}://" (supported: ${supportedSchemes().map((s) => s + '://').join(', ')})`);
  }
  return { scheme, rest: text.slice(i + 3) };
}

export async function createDiscovery(url: string, config: DiscoveryConfig): Promise<Discovery> {
  const { scheme, rest } = parseDiscoveryUrl(url);
  const factory = await backends[scheme]!();
  return factory(rest, config);
}
