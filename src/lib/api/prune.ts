/**
 * `docker container|image|volume|network|builder prune` (and `system prune`, which calls each) over
 * the cluster: asked of every Healthy engine with the client's filters, the answers summed. Beyond
 * v1, which answered these routes with 404.
 *
 * - Deleted objects are listed as `<node>/<entry>` (`node-1/3f2a…`, `node-2/myvol`, `untagged:
 *   node-1/x:latest`), as `ps` names containers and `volume ls` local volumes; `SpaceReclaimed` is
 *   the sum of the nodes'.
 * - Filters (`until`, `label`, `label!`, `dangling`, ...) reach each engine as sent; `node=<name>`
 *   (beyond dockerd) prunes only the nodes it names.
 * - A node that fails is named in the answer: when any fails the answer is that error (`node-2: a
 *   prune operation is already running`), with what the other nodes did, so the CLI prints it and
 *   exits non-zero; the JSON body still carries the merged report for API clients.
 * - Each engine's cache is re-read before the answer, so `docker ps -a`, `images`, `volume ls` and
 *   `network ls` right after show what is left.
 */
import type { Engine } from '../engine/engine';
import { describeFailures, failureStatus, askEngines, clientApiVersion, skippedNodes, targetEngines, versionBelow, type NodeAnswer } from './fanout';
import { ApiError } from '../errors';
import { discardBody, parseFilters, patternMatcher, sendJson } from './respond';
import type { Handler, RequestCtx } from './router';

interface ImageDeleteItem {
  Untagged?: string;
  Deleted?: string;
}

/** The union of dockerd's prune reports (each route fills its own list). */
export interface PruneReport {
  ContainersDeleted?: string[] | null;
  ImagesDeleted?: ImageDeleteItem[] | null;
  VolumesDeleted?: string[] | null;
  NetworksDeleted?: string[] | null;
  CachesDeleted?: string[] | null;
  SpaceReclaimed?: number;
}

type StringList = 'ContainersDeleted' | 'VolumesDeleted' | 'NetworksDeleted' | 'CachesDeleted';
type ListKey = StringList | 'ImagesDeleted';

interface PruneKind {
  route: string;
  /** For messages: `container prune`. */
  what: string;
  list: ListKey;
  /** Networks free no space: their report has no SpaceReclaimed. */
  space: boolean;
  /** The engine's filters (the client's, less `node`), adapted to what it reads. */
  filters?: (filters: Map<string, string[]>, clientVersion: string, engine: Engine) => Map<string, string[]>;
  refresh: (engine: Engine, report: PruneReport | undefined) => Promise<void>;
}

/** Set by dockerd 23+ on the volumes it creates for anonymous mounts; newer engines prune only those by default. */
const ANONYMOUS_VOLUME_LABEL = 'com.docker.volume.anonymous';

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/**
 * A volume prune's filters for one engine. API 1.42 changed what a volume prune removes (anonymous
 * volumes only, unless `all=true`); dockerd applies the client's version, and the manager speaks to
 * each engine at the engine's own, so the client's meaning is restated in the engine's terms: a
 * client below 1.42 gets `all=true` from newer engines; a client at 1.42+ asking for anonymous
 * volumes gets, from an engine below 1.42 (which knows no `all`), dockerd 23's own anonymous-volume
 * label filter, which spares every named volume.
 */
export function volumePruneFilters(filters: Map<string, string[]>, clientVersion: string, engineVersion: string): Map<string, string[]> {
  const out = new Map([...filters].map(([k, v]) => [k, [...v]] as [string, string[]]));
  const all = out.get('all');
  const clientOld = versionBelow(clientVersion, '1.42');
  const engineOld = versionBelow(engineVersion, '1.42');
  if (clientOld) {
    if (!engineOld && !all?.length) out.set('all', ['true']);
    if (engineOld) out.delete('all');
    return out;
  }
  if (!engineOld) return out;
  out.delete('all');
  if (!(all?.length === 1 && parseBool(all[0]!) === true)) out.set('label', [...(out.get('label') ?? []), ANONYMOUS_VOLUME_LABEL]);
  return out;
}

/** dockerd's check of the `all` volume prune filter, made once for every engine (some never see it). */
function checkVolumeAll(filters: Map<string, string[]>): void {
  const all = filters.get('all');
  if (!all?.length) return;
  if (all.length > 1) throw new ApiError(400, `invalid filter 'all=${all.join(',')}': only one value is expected`);
  if (parseBool(all[0]!) === undefined) throw new ApiError(400, `invalid filter 'all': strconv.ParseBool: parsing "${all[0]}": invalid syntax`);
}

const KINDS: PruneKind[] = [
  {
    route: '/containers/prune',
    what: 'container prune',
    list: 'ContainersDeleted',
    space: true,
    refresh: async (engine, report) => {
      for (const id of report?.ContainersDeleted ?? []) engine.forgetContainer(id);
      await engine.refreshContainers();
    },
  },
  { route: '/images/prune', what: 'image prune', list: 'ImagesDeleted', space: true, refresh: (engine) => engine.refreshImages() },
  {
    route: '/volumes/prune',
    what: 'volume prune',
    list: 'VolumesDeleted',
    space: true,
    filters: (filters, clientVersion, engine) => volumePruneFilters(filters, clientVersion, engine.apiVersion),
    refresh: (engine) => engine.refreshVolumes(),
  },
  { route: '/networks/prune', what: 'network prune', list: 'NetworksDeleted', space: false, refresh: (engine) => engine.refreshNetworks() },
  // The build cache is not cached by the manager.
  { route: '/build/prune', what: 'build cache prune', list: 'CachesDeleted', space: true, refresh: async () => undefined },
];

/** The nodes a `node` filter names (all when it names none), as `docker ps --filter node=` matches them. */
function selectNodes(engines: Engine[], values: string[] | undefined): Engine[] {
  if (!values?.length) return engines;
  const ms = values.map((v) => ({ v, m: patternMatcher(v) }));
  return engines.filter((e) => ms.some(({ v, m }) => m(e.name) || v === e.id || v === e.daemonId));
}

/** Filters as the Go client encodes them (`{"key":{"value":true}}`), which every engine version reads. */
export function encodeFilters(filters: Map<string, string[]>): string {
  const out: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of filters) {
    out[k] = {};
    for (const v of vs) out[k][v] = true;
  }
  return JSON.stringify(out);
}

/** `<node>/<entry>`: where each deleted object was. */
const qualify = (node: string, entry: string) => `${node}/${entry}`;

/** The nodes' reports as one: lists node-qualified and concatenated in node order, space summed. */
export function mergePruneReports(list: ListKey, space: boolean, answers: { node: string; report: PruneReport | null | undefined }[]): PruneReport {
  const out: PruneReport = {};
  let reclaimed = 0;
  if (list === 'ImagesDeleted') {
    const items: ImageDeleteItem[] = [];
    for (const { node, report } of answers) {
      for (const it of report?.ImagesDeleted ?? []) {
        const q: ImageDeleteItem = {};
        if (it.Untagged) q.Untagged = qualify(node, it.Untagged);
        if (it.Deleted) q.Deleted = qualify(node, it.Deleted);
        items.push(q);
      }
    }
    out.ImagesDeleted = items.length ? items : null;
  } else {
    const items: string[] = [];
    for (const { node, report } of answers) for (const entry of report?.[list] ?? []) items.push(qualify(node, entry));
    out[list] = items.length ? items : null;
  }
  for (const { report } of answers) reclaimed += Number(report?.SpaceReclaimed ?? 0) || 0;
  if (space) out.SpaceReclaimed = reclaimed;
  return out;
}

const DECIMAL = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

/** go-units HumanSize, as the CLI prints `Total reclaimed space`. */
export function humanSize(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < DECIMAL.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${DECIMAL[i]}`;
}

/** What one node did: `node-1: 2 deleted, 1.2kB reclaimed`. */
function doneOn(kind: PruneKind, answer: NodeAnswer<PruneReport | null>): string {
  const n = answer.body?.[kind.list]?.length ?? 0;
  const space = kind.space ? `, ${humanSize(Number(answer.body?.SpaceReclaimed ?? 0) || 0)} reclaimed` : '';
  return `${answer.engine.name}: ${n} deleted${space}`;
}

function pruneRoute(kind: PruneKind) {
  return async (ctx: RequestCtx) => {
    await discardBody(ctx.req);
    const filters = parseFilters(ctx.query.get('filters'));
    const engines = selectNodes(targetEngines(ctx), filters.get('node'));
    filters.delete('node');
    if (kind.list === 'VolumesDeleted') checkVolumeAll(filters);
    const clientVersion = clientApiVersion(ctx);
    const { answers, failures } = await askEngines<PruneReport | null>(engines, 'POST', (engine) => {
      const q = new URLSearchParams(ctx.query);
      const f = kind.filters ? kind.filters(filters, clientVersion, engine) : filters;
      if (f.size) q.set('filters', encodeFilters(f));
      else q.delete('filters');
      const qs = q.toString();
      return `${kind.route}${qs ? `?${qs}` : ''}`;
    });
    const reports = new Map(answers.map((a) => [a.engine, a.body ?? undefined]));
    await Promise.all(engines.map((e) => kind.refresh(e, reports.get(e)).catch(() => undefined)));
    const merged = mergePruneReports(
      kind.list,
      kind.space,
      answers.map((a) => ({ node: a.engine.name, report: a.body })),
    );
    const warnings = skippedNodes(ctx);
    const body = warnings.length ? { ...merged, Warnings: warnings } : merged;
    if (!failures.length) return sendJson(ctx.res, 200, body);
    const done = answers.length ? ` (done on ${answers.map((a) => doneOn(kind, a)).join('; ')})` : '';
    const message = `${kind.what} failed on ${describeFailures(failures)}${done}`;
    sendJson(ctx.res, failureStatus(failures), { message, ...body });
  };
}

/** The handler of the prune route at `route` (one of KINDS). */
export function prune(route: string): Handler {
  const kind = KINDS.find((k) => k.route === route);
  if (!kind) throw new Error(`no prune route ${route}`);
  return pruneRoute(kind);
}
