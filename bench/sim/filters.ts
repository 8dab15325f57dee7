/** The `filters` of the list routes: which keys an engine accepts, and the container list's (`docker ps`) predicate. */
import { ApiError } from '../../src/lib/errors';
import { labelsMatch, patternMatcher } from '../../src/lib/api/respond';
import { asObject } from './json';
import { STATUSES, type Container, type Network } from './model';

/** dockerd refuses a filter key its route does not know (the manager's routes check inline). */
export function checkFilterKeys(f: Map<string, string[]>, allowed: readonly string[]): void {
  for (const k of f.keys()) if (!allowed.includes(k)) throw new ApiError(400, `invalid filter '${k}'`);
}

const CONTAINER_FILTERS = ['ancestor', 'before', 'expose', 'exited', 'health', 'id', 'isolation', 'is-task', 'label', 'name', 'network', 'publish', 'since', 'status', 'volume'];

/** What a container filter needs of the engine. */
export interface FilterLookups {
  lookupImageId(ref: string): string | undefined;
  lookupNetwork(ref: string): Network | undefined;
}

/**
 * The filters of GET /containers/json as one predicate (values of a key ORed, keys ANDed), and
 * whether a status filter asks for stopped containers too.
 */
export function containerFilter(f: Map<string, string[]>, engine: FilterLookups): { all: boolean; test: (c: Container) => boolean } {
  checkFilterKeys(f, CONTAINER_FILTERS);
  const status = f.get('status');
  for (const s of status ?? []) if (!STATUSES.includes(s)) throw new ApiError(400, `invalid filter 'status=${s}'`);
  const exited = (f.get('exited') ?? []).map((v) => {
    const n = Number.parseInt(v, 10);
    if (!Number.isFinite(n)) throw new ApiError(400, `invalid filter 'exited=${v}'`);
    return n;
  });
  const ancestors = (f.get('ancestor') ?? []).map((a) => engine.lookupImageId(a) ?? `missing:${a}`);
  const names = f.get('name')?.map(patternMatcher);
  const ids = f.get('id')?.map(patternMatcher);
  const labels = f.get('label') ?? [];
  const nets = f.get('network');
  const vols = f.get('volume');
  const pub = f.get('publish');
  const exp = f.get('expose');
  const tasks = f.get('is-task')?.includes('true') ?? false;
  const test = (c: Container): boolean => {
    if (status && !status.includes(c.status)) return false;
    if (exited.length && (c.status !== 'exited' || !exited.includes(c.exitCode))) return false;
    if (names && !names.some((m) => m(`/${c.name}`))) return false;
    if (ids && !ids.some((m) => m(c.id))) return false;
    if (!labelsMatch(c.labels, labels)) return false;
    if (ancestors.length && !ancestors.includes(c.imageId)) return false;
    if (nets) {
      const on = c.endpoints.map((ep) => engine.lookupNetwork(ep.network)).filter((n): n is Network => n !== undefined);
      if (!on.some((n) => nets.some((x) => x === n.name || n.id.startsWith(x)))) return false;
    }
    if (vols && !vols.some((v) => c.mounts.some((m) => m.Name === v || m.Source === v || m.Destination === v))) return false;
    if (pub && !pub.some((p) => publishedPorts(c).some((x) => x.pub === p || `${x.pub}/${x.proto}` === p))) return false;
    if (exp && !exp.some((p) => Object.keys(asObject(c.config.ExposedPorts) ?? {}).some((k) => k === p || k.split('/')[0] === p))) return false;
    // No swarm-mode tasks here.
    return !tasks;
  };
  return { all: status !== undefined, test };
}

function publishedPorts(c: Container): { pub: string; proto: string }[] {
  const out: { pub: string; proto: string }[] = [];
  for (const [key, bindings] of Object.entries(c.ports ?? {})) {
    const proto = key.split('/')[1] ?? 'tcp';
    for (const b of bindings ?? []) out.push({ pub: b.HostPort, proto });
  }
  return out;
}

