/**
 * From a Docker create body to a ContainerRequest, as Swarm v1 does it (cluster/config.go and the
 * create handler): legacy top-level resources merged into HostConfig, scheduler entries taken out of
 * Env, label and env expressions merged and written back as com.docker.swarm.* labels, CpuShares read
 * as a number of CPUs.
 */
import { ApiError } from '../errors';
import { cpusToShares, requestedCpus } from './resources';
import type { ContainerRequest, JsonObject, JsonValue, PortBinding } from './types';

const SWARM_LABEL_NAMESPACE = 'com.docker.swarm';
export const CONSTRAINTS_LABEL = `${SWARM_LABEL_NAMESPACE}.constraints`;
export const AFFINITIES_LABEL = `${SWARM_LABEL_NAMESPACE}.affinities`;
export const WHITELISTS_LABEL = `${SWARM_LABEL_NAMESPACE}.whitelists`;
export const RESCHEDULE_POLICIES_LABEL = `${SWARM_LABEL_NAMESPACE}.reschedule-policies`;
export const SWARM_ID_LABEL = `${SWARM_LABEL_NAMESPACE}.id`;
/** Beyond v1: `true` makes a global container, one copy on every node that accepts it (see global.ts). */
export const GLOBAL_LABEL = `${SWARM_LABEL_NAMESPACE}.global`;
/** Beyond v1: shared by the copies of one global container (each copy keeps its own swarm ID). */
export const GLOBAL_ID_LABEL = `${SWARM_LABEL_NAMESPACE}.global.id`;
/** `-e global:true`: the Env form of GLOBAL_LABEL. */
export const GLOBAL_ENV_KEY = 'global';

const RESCHEDULE_POLICIES = ['off', 'on-node-failure'] as const;

type ExprKind = 'constraints' | 'affinities' | 'whitelists' | 'reschedulePolicies';

const ENV_KEYS: Record<string, ExprKind> = {
  constraint: 'constraints',
  affinity: 'affinities',
  whitelist: 'whitelists',
  reschedule: 'reschedulePolicies',
};

const LABEL_OF: Record<ExprKind, string> = {
  constraints: CONSTRAINTS_LABEL,
  affinities: AFFINITIES_LABEL,
  whitelists: WHITELISTS_LABEL,
  reschedulePolicies: RESCHEDULE_POLICIES_LABEL,
};

const KINDS: readonly ExprKind[] = ['affinities', 'constraints', 'whitelists', 'reschedulePolicies'];

function isObject(v: JsonValue | undefined | unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function str(v: JsonValue | undefined): string {
  return typeof v === 'string' ? v : '';
}

function strings(v: JsonValue | undefined): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A JSON array of strings in a label, as Go's json.Unmarshal into []string reads it (bad JSON ⇒ none). */
function parseLabelArray(text: string | undefined): string[] {
  if (text === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** JSON like Go's json.Marshal writes it (HTML-safe escapes), so labels read back byte-identical. */
export function goJson(values: readonly string[]): string {
  return JSON.stringify(values).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * v1's ConsolidateResourceFields: a non-zero legacy top-level Memory/MemorySwap/CpuShares/Cpuset wins
 * over HostConfig's; the top-level copies are then dropped (v1 only forwards Config + HostConfig).
 */
function consolidate(config: JsonObject, hostConfig: JsonObject): void {
  const pairs: Array<[string, string, 'number' | 'string']> = [
    ['Memory', 'Memory', 'number'],
    ['MemorySwap', 'MemorySwap', 'number'],
    ['CpuShares', 'CpuShares', 'number'],
    ['Cpuset', 'CpusetCpus', 'string'],
  ];
  for (const [top, host, kind] of pairs) {
    if (!(top in config)) continue;
    const v = config[top];
    const set = kind === 'number' ? num(v) !== 0 : str(v) !== '';
    if (set && v !== undefined) hostConfig[host] = v;
    delete config[top];
  }
}

function flattenPortBindings(v: JsonValue | undefined): PortBinding[] {
  const out: PortBinding[] = [];
  if (!isObject(v)) return out;
  for (const [containerPort, list] of Object.entries(v)) {
    if (!Array.isArray(list)) continue;
    for (const b of list) {
      if (!isObject(b)) continue;
      out.push({ containerPort, hostIp: str(b.HostIp), hostPort: str(b.HostPort) });
    }
  }
  return out;
}

function labelsOf(config: JsonObject): Record<string, string> {
  const out: Record<string, string> = {};
  const labels = config.Labels;
  if (isObject(labels)) {
    for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  }
  return out;
}

function hostConfigOf(config: JsonObject): JsonObject {
  let hc = config.HostConfig;
  if (!isObject(hc)) {
    hc = {};
    config.HostConfig = hc;
  }
  return hc;
}

/** Derives the request fields from a cleaned config (labels already written). */
function fromConfig(config: JsonObject, name: string, exprs: Record<ExprKind, string[]>): ContainerRequest {
  const hc = hostConfigOf(config);
  return {
    name,
    image: str(config.Image),
    constraints: exprs.constraints,
    affinities: exprs.affinities,
    whitelists: exprs.whitelists,
    reschedulePolicies: exprs.reschedulePolicies,
    memory: num(hc.Memory),
    cpus: requestedCpus(hc),
    portBindings: flattenPortBindings(hc.PortBindings),
    exposedPorts: isObject(config.ExposedPorts) ? Object.keys(config.ExposedPorts) : [],
    networkMode: str(hc.NetworkMode),
    volumesFrom: strings(hc.VolumesFrom),
    links: strings(hc.Links),
    labels: labelsOf(config),
    config,
  };
}

function writeLabel(config: JsonObject, label: string, values: readonly string[]): void {
  let labels = config.Labels;
  if (!isObject(labels)) {
    labels = {};
    config.Labels = labels;
  }
  labels[label] = goJson(values);
}

/**
 * Turns the JSON body of POST /containers/create (plus the `name` query parameter) into a request.
 * The body is not modified; `request.config` is the cleaned copy to send to the engine. A body that is
 * no JSON object is an ApiError(400).
 */
export function parseCreateRequest(body: unknown, name = ''): ContainerRequest {
  if (!isObject(body)) throw new ApiError(400, 'create body must be a JSON object');
  const config = structuredClone(body);
  const hc = hostConfigOf(config);
  consolidate(config, hc);
  // v1 decodes into a config whose MemorySwappiness defaults to -1.
  if (!('MemorySwappiness' in hc)) hc.MemorySwappiness = -1;

  const labels = isObject(config.Labels) ? config.Labels : {};
  const exprs: Record<ExprKind, string[]> = {
    affinities: parseLabelArray(typeof labels[AFFINITIES_LABEL] === 'string' ? labels[AFFINITIES_LABEL] : undefined),
    constraints: parseLabelArray(typeof labels[CONSTRAINTS_LABEL] === 'string' ? labels[CONSTRAINTS_LABEL] : undefined),
    whitelists: parseLabelArray(typeof labels[WHITELISTS_LABEL] === 'string' ? labels[WHITELISTS_LABEL] : undefined),
    reschedulePolicies: parseLabelArray(
      typeof labels[RESCHEDULE_POLICIES_LABEL] === 'string' ? labels[RESCHEDULE_POLICIES_LABEL] : undefined,
    ),
  };

  let globalEnv: string | undefined;
  if (Array.isArray(config.Env)) {
    const env: JsonValue[] = [];
    for (const entry of config.Env) {
      if (typeof entry === 'string') {
        // v1 splits at the first ':' and compares the key exactly (`Constraint:` stays in Env).
        const colon = entry.indexOf(':');
        const key = colon >= 0 ? entry.slice(0, colon) : '';
        if (Object.hasOwn(ENV_KEYS, key)) {
          exprs[ENV_KEYS[key]!].push(entry.slice(colon + 1));
          continue;
        }
        if (key === GLOBAL_ENV_KEY) {
          globalEnv = entry.slice(colon + 1);
          continue;
        }
      }
      env.push(entry);
    }
    config.Env = env;
  }
  if (globalEnv !== undefined) {
    let written = config.Labels;
    if (!isObject(written)) {
      written = {};
      config.Labels = written;
    }
    written[GLOBAL_LABEL] = globalEnv;
  }

  for (const kind of KINDS) if (exprs[kind].length > 0) writeLabel(config, LABEL_OF[kind], exprs[kind]);
  return fromConfig(config, name.replace(/^\//, ''), exprs);
}

/**
 * A request for `POST /build`: v1 schedules a build like a container whose Env is the build args
 * (`k=v`), so `--build-arg constraint:node==n1` (key `constraint:node`, value `=n1`) constrains it.
 */
export function parseBuildRequest(
  buildArgs: Record<string, string | null>,
  resources: { memory?: number; cpus?: number } = {},
): ContainerRequest {
  const env = Object.entries(buildArgs).map(([k, v]) => (v === null ? k : `${k}=${v}`));
  return parseCreateRequest({ Env: env, HostConfig: { Memory: resources.memory ?? 0, CpuShares: resources.cpus ?? 0 } });
}

/** v1's Validate(): at most one reschedule policy, and a known one. Returns the error text or null. */
export function validateReschedulePolicies(request: ContainerRequest): string | null {
  const policies = request.reschedulePolicies;
  if (policies.length > 1) return 'too many reschedule policies';
  if (policies.length === 1 && !(RESCHEDULE_POLICIES as readonly string[]).includes(policies[0]!)) {
    return `invalid reschedule policy: ${policies[0]}`;
  }
  return null;
}

/** v1's HaveNodeConstraint: a hard `node==` constraint (`node==~` is soft and does not count). */
export function hasHardNodeConstraint(request: ContainerRequest): boolean {
  return request.constraints.some((c) => c.startsWith('node==') && !c.startsWith('node==~'));
}

/** A copy of the request with `expr` added to its constraints (and to the constraints label). */
export function addConstraint(request: ContainerRequest, expr: string): ContainerRequest {
  return withExpressions(request, 'constraints', [...request.constraints, expr]);
}

/** A copy of the request with `expr` added to its affinities (and to the affinities label). */
export function addAffinity(request: ContainerRequest, expr: string): ContainerRequest {
  return withExpressions(request, 'affinities', [...request.affinities, expr]);
}

/** A copy of the request with `expr` added to its whitelists (and to the whitelists label). */
export function addWhitelist(request: ContainerRequest, expr: string): ContainerRequest {
  return withExpressions(request, 'whitelists', [...request.whitelists, expr]);
}

function withExpressions(request: ContainerRequest, kind: ExprKind, values: string[]): ContainerRequest {
  const config = structuredClone(request.config);
  writeLabel(config, LABEL_OF[kind], values);
  return { ...request, [kind]: values, labels: labelsOf(config), config };
}

/** A copy of the request with a container label set (e.g. com.docker.swarm.id). */
export function withLabel(request: ContainerRequest, key: string, value: string): ContainerRequest {
  const config = structuredClone(request.config);
  let labels = config.Labels;
  if (!isObject(labels)) {
    labels = {};
    config.Labels = labels;
  }
  labels[key] = value;
  return { ...request, labels: labelsOf(config), config };
}

/** A copy of the request with HostConfig.NetworkMode replaced. */
export function withNetworkMode(request: ContainerRequest, networkMode: string): ContainerRequest {
  const config = structuredClone(request.config);
  hostConfigOf(config).NetworkMode = networkMode;
  return { ...request, networkMode, config };
}

/**
 * The body to POST to the chosen engine: `request.config` with HostConfig.CpuShares turned from CPUs
 * into shares for that engine (ceil(n×1024/engineCpus)).
 */
export function engineCreateBody(request: ContainerRequest, engineCpus: number): JsonObject {
  const config = structuredClone(request.config);
  const hc = hostConfigOf(config);
  if ('CpuShares' in hc) hc.CpuShares = cpusToShares(num(hc.CpuShares), engineCpus);
  return config;
}
