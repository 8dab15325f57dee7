/**
 * v1's dependency filter: the node must already hold every container the request depends on:
 * `--volumes-from=<name|id>[:mode]`, `--link=<name>:<alias>`, `--net=container:<name|id>`
 * (applied even when links are used on user-defined networks).
 */
import { findContainer } from '../lookup';
import type { ContainerRequest } from '../types';
import type { Filter } from './filter';
import { partition } from './filter';

interface Dependency {
  /** The container reference to find on the node. */
  ref: string;
  /** How v1 lists it: `--volumes-from=…`, `--link=…`, `--net=container:…`. */
  label: string;
}

/** The request's dependencies in v1's order: volumes-from, links, net container. */
function dependencies(request: ContainerRequest): Dependency[] {
  const deps: Dependency[] = [];
  for (const v of request.volumesFrom) deps.push({ ref: v.split(':')[0]!, label: `--volumes-from=${v}` });
  for (const l of request.links) deps.push({ ref: l.split(':')[0]!, label: `--link=${l}` });
  if (request.networkMode.startsWith('container:')) {
    deps.push({ ref: request.networkMode.slice('container:'.length), label: `--net=${request.networkMode}` });
  }
  return deps;
}

export const dependencyFilter: Filter = {
  name: 'dependency',
  apply(nodes, request) {
    const rejected = new Map<string, string>();
    if (nodes.length === 0) return { kept: [], rejected };
    const deps = dependencies(request);
    // Nearly every request has none: no walk over every node's containers then.
    if (deps.length === 0) return { kept: [...nodes], rejected };
    const missing = (n: (typeof nodes)[number]) => deps.filter((d) => findContainer(n, d.ref) === undefined);
    const kept = partition(
      nodes,
      (n) => missing(n).length === 0,
      (n) => `missing dependency ${missing(n).map((d) => d.label).join(' ')}`,
      rejected,
    );
    if (kept.length === 0) {
      return { kept, rejected, error: `unable to find a node fulfilling all dependencies: ${deps.map((d) => d.label).join(' ')}` };
    }
    return { kept, rejected };
  },
  conditions(request) {
    return dependencies(request).map((d) => d.label);
  },
};
