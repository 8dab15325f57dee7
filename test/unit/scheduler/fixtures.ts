/** Plain snapshots for the scheduler tests. */
import { parseCreateRequest } from '../../../src/lib/scheduler';
import type { ContainerRequest, ContainerSnapshot, JsonObject, NodeSnapshot } from '../../../src/lib/scheduler';

export const GiB = 1024 * 1024 * 1024;

export function node(name: string, over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    id: `${name.toUpperCase()}-ID|10.0.0.1:2375`,
    name,
    addr: '10.0.0.1:2375',
    ip: '10.0.0.1',
    labels: {},
    totalCpus: 4,
    totalMemory: 4 * GiB,
    healthIndicator: 100,
    drained: false,
    containers: [],
    images: [],
    ...over,
  };
}

export function container(id: string, over: Partial<ContainerSnapshot> = {}): ContainerSnapshot {
  return {
    id,
    names: [`c-${id}`],
    image: 'busybox',
    state: 'running',
    labels: {},
    cpus: 0,
    memory: 0,
    portBindings: [],
    networkMode: 'default',
    exposedPorts: [],
    ...over,
  };
}

/** A request from a create body (as the API layer would pass it). */
export function req(body: JsonObject = {}, name = ''): ContainerRequest {
  return parseCreateRequest({ Image: 'busybox', ...body }, name);
}

export function names(nodes: readonly { name: string }[]): string[] {
  return nodes.map((n) => n.name);
}
