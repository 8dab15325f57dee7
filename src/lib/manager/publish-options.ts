/**
 * Cluster options of the publish proxy and of session co-location (beyond v1):
 *
 *   swarm.publish-proxy=true                 published ports are also reachable at the manager's address
 *   swarm.publish-proxy.addr=<ip>            where the proxy listens (default: the host of the first tcp -H)
 *   swarm.publish-proxy.max-connections=<n>  open TCP connections and UDP flows in all (default 4096)
 *   swarm.publish-proxy.idle-timeout=<dur>   close a TCP connection idle this long (default 0: never)
 *   swarm.session-affinity=true|false        a client session's containers and networks go to one node (soft);
 *                                            on by default with the publish proxy
 */
import { isIP } from 'node:net';
import { parseDuration } from '../duration';
import { UserError } from '../errors';
import type { ListenAddress } from '../listen';

export interface PublishSettings {
  proxy: boolean;
  /** swarm.publish-proxy.addr; undefined: chosen from the -H addresses (publishAddress). */
  addr?: string;
  maxConnections: number;
  /** TCP idle timeout in ms; 0: none. */
  idleTimeoutMs: number;
  /** As given; unset: on with the proxy (sessionAffinityOn). */
  sessionAffinity?: boolean;
}

export const PUBLISH_OPTION_NAMES = [
  'swarm.publish-proxy',
  'swarm.publish-proxy.addr',
  'swarm.publish-proxy.max-connections',
  'swarm.publish-proxy.idle-timeout',
  'swarm.session-affinity',
];

export function defaultPublishSettings(): PublishSettings {
  return { proxy: false, maxConnections: 4096, idleTimeoutMs: 0 };
}

export function isPublishOption(key: string): boolean {
  return PUBLISH_OPTION_NAMES.includes(key);
}

function flag(key: string, value: string): boolean {
  if (!['true', 'false', '1', '0'].includes(value)) throw new UserError(`invalid value "${value}" for ${key}: expected true or false`, 2);
  return value === 'true' || value === '1';
}

/** Applies one `--cluster-opt key=value` of PUBLISH_OPTION_NAMES. */
export function applyPublishOption(s: PublishSettings, key: string, value: string): PublishSettings {
  switch (key) {
    case 'swarm.publish-proxy':
      return { ...s, proxy: flag(key, value) };
    case 'swarm.session-affinity':
      return { ...s, sessionAffinity: flag(key, value) };
    case 'swarm.publish-proxy.addr':
      if (!isIP(value)) throw new UserError(`invalid value "${value}" for ${key}: expected an IP address`, 2);
      return { ...s, addr: value };
    case 'swarm.publish-proxy.max-connections': {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new UserError(`invalid value "${value}" for ${key}: expected a positive integer`, 2);
      return { ...s, maxConnections: Number(value) };
    }
    case 'swarm.publish-proxy.idle-timeout': {
      const ms = parseDuration(value, key);
      if (ms < 0) throw new UserError(`invalid value "${value}" for ${key}: expected a duration`, 2);
      return { ...s, idleTimeoutMs: ms };
    }
    default:
      throw new UserError(`unsupported cluster option ${key}`, 2);
  }
}

/**
 * Session co-location is on with the proxy unless turned off: Testcontainers creates a container that
 * has network aliases without its network and connects it afterwards, which works only on the
 * network's node.
 */
export function sessionAffinityOn(s: PublishSettings): boolean {
  return s.sessionAffinity ?? s.proxy;
}

/**
 * The address the proxy listens on and reports: swarm.publish-proxy.addr, else the host of the first
 * tcp `-H` (0.0.0.0 when that is `:port` or 0.0.0.0), else 127.0.0.1 (unix sockets only: local clients).
 */
export function publishAddress(s: PublishSettings, listen: readonly ListenAddress[]): string {
  if (s.addr) return s.addr;
  const tcp = listen.find((l) => l.kind === 'tcp');
  if (!tcp) return '127.0.0.1';
  if (isIP(tcp.host)) return tcp.host;
  return tcp.host === 'localhost' ? '127.0.0.1' : '0.0.0.0';
}
