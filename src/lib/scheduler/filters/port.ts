/**
 * v1's port filter.
 * Bridge mode: for each requested binding with a HostPort, drop nodes where any container (any state,
 * pending ones included) binds that host port on the same IP, or where either side binds every
 * interface ('' / 0.0.0.0 / ::). The protocol is not compared (53/tcp blocks 53/udp); a binding
 * without HostPort, or with HostPort 0 (both a random port to dockerd; Testcontainers sends 0), never
 * conflicts.
 * Host mode (`NetworkMode: host`): each ExposedPorts key (`80/tcp`, protocol-sensitive) must not be
 * exposed by another host-mode container on the node.
 */
import type { ContainerRequest, NodeSnapshot, PortBinding } from '../types';
import type { Filter, FilterResult } from './filter';
import { partition } from './filter';

const ALL_INTERFACES = new Set(['', '0.0.0.0', '::']);

function bindsAllInterfaces(hostIp: string): boolean {
  return ALL_INTERFACES.has(hostIp);
}

/** '' and '0' let dockerd pick the port. */
function isRandomPort(p: string): boolean {
  return p === '' || (/^\d+$/.test(p) && Number(p) === 0);
}

function samePort(a: string, b: string): boolean {
  if (a === b) return true;
  return /^\d+$/.test(a) && /^\d+$/.test(b) && Number(a) === Number(b);
}

/** Whether `requested` clashes with a binding a container on `node` already holds. */
export function portInUse(node: NodeSnapshot, requested: PortBinding): boolean {
  if (isRandomPort(requested.hostPort)) return false;
  for (const c of node.containers) {
    for (const b of c.portBindings) {
      if (isRandomPort(b.hostPort) || !samePort(b.hostPort, requested.hostPort)) continue;
      if (requested.hostIp === b.hostIp || bindsAllInterfaces(requested.hostIp) || bindsAllInterfaces(b.hostIp)) {
        return true;
      }
    }
  }
  return false;
}

/** Whether a host-mode container on `node` already exposes `port` (e.g. `80/tcp`). */
function portExposedInHostMode(node: NodeSnapshot, port: string): boolean {
  return node.containers.some((c) => c.networkMode === 'host' && c.exposedPorts.includes(port));
}

function isHostMode(request: ContainerRequest): boolean {
  return request.networkMode === 'host';
}

export const portFilter: Filter = {
  name: 'port',
  apply(nodes, request): FilterResult {
    const rejected = new Map<string, string>();
    let kept = [...nodes];
    if (isHostMode(request)) {
      for (const port of request.exposedPorts) {
        kept = partition(kept, (n) => !portExposedInHostMode(n, port), () => `port ${port} in use (host mode)`, rejected);
        if (kept.length === 0) {
          return { kept, rejected, error: `unable to find a node with port ${port} available in the Host mode` };
        }
      }
      return { kept, rejected };
    }
    for (const binding of request.portBindings) {
      const where = bindsAllInterfaces(binding.hostIp) ? '' : ` on ${binding.hostIp}`;
      kept = partition(kept, (n) => !portInUse(n, binding), () => `port ${binding.hostPort}${where} in use`, rejected);
      if (kept.length === 0) {
        return { kept, rejected, error: `unable to find a node with port ${binding.hostPort} available` };
      }
    }
    return { kept, rejected };
  },
  conditions(request) {
    if (isHostMode(request)) return request.exposedPorts.map((p) => `port ${p} (Host mode)`);
    return request.portBindings.map((b) => `port ${b.hostPort} (Bridge mode)`);
  },
};
