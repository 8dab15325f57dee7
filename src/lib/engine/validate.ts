/**
 * What engines send is input too: before a record enters the cache (where the scheduler and the API
 * read it), the fields they read are checked for the types Docker documents. A record that fails is
 * skipped and the reason returned for the log, so one malformed container (say `PortBindings: [1,2]`)
 * cannot make every later create fail. Fields nobody reads are not checked.
 */
type Problem = string | undefined;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown) => v === undefined || v === null;

function stringField(o: Record<string, unknown>, key: string, where: string, required = false): Problem {
  const v = o[key];
  if (absent(v)) return required ? `${where}${key} is missing` : undefined;
  return typeof v === 'string' ? undefined : `${where}${key} is not a string`;
}

function numberField(o: Record<string, unknown>, key: string, where: string): Problem {
  const v = o[key];
  return absent(v) || (typeof v === 'number' && Number.isFinite(v)) ? undefined : `${where}${key} is not a number`;
}

function stringList(o: Record<string, unknown>, key: string, where: string): Problem {
  const v = o[key];
  if (absent(v)) return undefined;
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? undefined : `${where}${key} is not a list of strings`;
}

function stringMap(o: Record<string, unknown>, key: string, where: string): Problem {
  const v = o[key];
  if (absent(v)) return undefined;
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string') ? undefined : `${where}${key} is not a map of strings`;
}

function objectField(o: Record<string, unknown>, key: string, where: string): Problem {
  const v = o[key];
  return absent(v) || isObject(v) ? undefined : `${where}${key} is not an object`;
}

function listOfObjects(o: Record<string, unknown>, key: string, where: string): Problem {
  const v = o[key];
  if (absent(v)) return undefined;
  return Array.isArray(v) && v.every(isObject) ? undefined : `${where}${key} is not a list of objects`;
}

/** `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` (lists may be null). */
function portMap(o: Record<string, unknown>, key: string, where: string): Problem {
  const v = o[key];
  if (absent(v)) return undefined;
  if (!isObject(v)) return `${where}${key} is not a port map`;
  for (const [port, list] of Object.entries(v)) {
    if (absent(list)) continue;
    if (!Array.isArray(list)) return `${where}${key}[${port}] is not a list`;
    for (const b of list) {
      if (!isObject(b)) return `${where}${key}[${port}] holds a non-object`;
      const bad = stringField(b, 'HostIp', `${where}${key}[${port}].`) ?? stringField(b, 'HostPort', `${where}${key}[${port}].`);
      if (bad) return bad;
    }
  }
  return undefined;
}

function first(...checks: Problem[]): Problem {
  return checks.find((c) => c !== undefined);
}

function hostConfigProblem(hc: unknown, where: string): Problem {
  if (absent(hc)) return undefined;
  if (!isObject(hc)) return `${where}HostConfig is not an object`;
  const w = `${where}HostConfig.`;
  return first(
    numberField(hc, 'CpuShares', w),
    numberField(hc, 'NanoCpus', w),
    numberField(hc, 'Memory', w),
    stringField(hc, 'NetworkMode', w),
    portMap(hc, 'PortBindings', w),
    stringList(hc, 'VolumesFrom', w),
    stringList(hc, 'Links', w),
  );
}

/** Why a `/containers/json` entry cannot be used, or undefined when it can. */
export function containerSummaryProblem(s: unknown): Problem {
  if (!isObject(s)) return 'container summary is not an object';
  return first(
    stringField(s, 'Id', '', true),
    stringList(s, 'Names', ''),
    stringField(s, 'Image', ''),
    stringField(s, 'State', ''),
    stringField(s, 'Status', ''),
    numberField(s, 'Created', ''),
    stringMap(s, 'Labels', ''),
    listOfObjects(s, 'Ports', ''),
    listOfObjects(s, 'Mounts', ''),
    hostConfigProblem(s.HostConfig, ''),
    objectField(s, 'NetworkSettings', ''),
  );
}

/** Why a container inspect cannot be used, or undefined when it can. */
export function containerInspectProblem(c: unknown): Problem {
  if (!isObject(c)) return 'container inspect is not an object';
  const cfg = c.Config;
  const state = c.State;
  return first(
    stringField(c, 'Id', ''),
    stringField(c, 'Name', ''),
    objectField(c, 'State', ''),
    isObject(state) ? first(stringField(state, 'Status', 'State.'), stringField(state, 'StartedAt', 'State.'), objectField(state, 'Health', 'State.')) : undefined,
    objectField(c, 'Config', ''),
    isObject(cfg) ? first(stringField(cfg, 'Image', 'Config.'), stringMap(cfg, 'Labels', 'Config.'), stringList(cfg, 'Env', 'Config.'), objectField(cfg, 'ExposedPorts', 'Config.')) : undefined,
    hostConfigProblem(c.HostConfig, ''),
    objectField(c, 'NetworkSettings', ''),
    listOfObjects(c, 'Mounts', ''),
  );
}

export function imageProblem(i: unknown): Problem {
  if (!isObject(i)) return 'image is not an object';
  return first(stringField(i, 'Id', '', true), stringList(i, 'RepoTags', ''), stringList(i, 'RepoDigests', ''), numberField(i, 'Created', ''), stringMap(i, 'Labels', ''));
}

export function networkProblem(n: unknown): Problem {
  if (!isObject(n)) return 'network is not an object';
  return first(stringField(n, 'Id', '', true), stringField(n, 'Name', '', true), stringField(n, 'Driver', ''), stringField(n, 'Scope', ''), stringMap(n, 'Labels', ''), objectField(n, 'Containers', ''));
}

export function volumeProblem(v: unknown): Problem {
  if (!isObject(v)) return 'volume is not an object';
  return first(stringField(v, 'Name', '', true), stringField(v, 'Driver', ''), stringMap(v, 'Labels', ''));
}

/**
 * The usable records of `list`, typed; each skipped one is reported to `skip` with its reason. A
 * response that is not a list at all counts as empty (and is reported once).
 */
export function usableRecords<T>(list: unknown, problem: (x: unknown) => Problem, skip: (reason: string, record: unknown) => void): T[] {
  if (!Array.isArray(list)) {
    if (!absent(list)) skip('the engine answered something other than a list', list);
    return [];
  }
  const out: T[] = [];
  for (const x of list) {
    const why = problem(x);
    if (why) skip(why, x);
    else out.push(x as T);
  }
  return out;
}
