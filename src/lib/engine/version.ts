/**
 * Docker API versions: which version the manager speaks to each engine, and which it advertises.
 *
 * Each engine is spoken to at the newest version both sides know: min(engine's ApiVersion,
 * MAX_API_VERSION), which must not be below the engine's MinAPIVersion (Docker Engine 29 refuses
 * everything below 1.44). MAX_API_VERSION is the newest version whose request and response shapes the
 * manager reads and has been tested against (dockerd 26.1 speaks 1.45); an engine that speaks only
 * newer versions is spoken to at 1.45 as long as it still accepts it.
 *
 * Clients are told the newest version every registered engine is spoken to (the cluster's common
 * version), so an old engine in the cluster lowers what clients use and no client sends a shape that
 * some engine cannot read; every request is then rewritten to each engine's own version.
 */

/** Newest API version whose shapes the manager reads. */
export const MAX_API_VERSION = '1.45';
/** Oldest API version the manager serves to clients and speaks to engines (docker CLI 28's floor too). */
export const MIN_API_VERSION = '1.24';

const VERSION_RE = /^\d{1,3}\.\d{1,3}$/;

function isApiVersion(v: unknown): v is string {
  return typeof v === 'string' && VERSION_RE.test(v);
}

export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number(n) || 0);
  const pb = b.split('.').map((n) => Number(n) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}

const minVersion = (a: string, b: string) => (compareApiVersions(a, b) <= 0 ? a : b);

export type ApiNegotiation = { ok: true; version: string } | { ok: false; error: string };

/**
 * The version to talk to an engine at, from its `/version` (`ApiVersion`, `MinAPIVersion`), or why
 * there is none. An engine that reports no MinAPIVersion (API < 1.25) accepts everything up to its own.
 */
export function negotiateApiVersion(engineMax: unknown, engineMin?: unknown): ApiNegotiation {
  const range = `this manager speaks API ${MIN_API_VERSION} to ${MAX_API_VERSION}`;
  if (!isApiVersion(engineMax)) return { ok: false, error: `engine reports no usable API version (${JSON.stringify(engineMax ?? null)}); ${range}` };
  const low = isApiVersion(engineMin) ? engineMin : '1.12';
  const version = minVersion(engineMax, MAX_API_VERSION);
  if (compareApiVersions(version, MIN_API_VERSION) < 0) {
    return { ok: false, error: `engine API ${engineMax} is too old: ${range}; upgrade the engine to one that speaks API ${MIN_API_VERSION} or later` };
  }
  if (compareApiVersions(low, version) > 0) {
    return { ok: false, error: `engine requires API ${low} or later (it speaks ${low} to ${engineMax}) but ${range}; use an engine that still accepts API ${MAX_API_VERSION} or older` };
  }
  return { ok: true, version };
}

/**
 * What the manager advertises: the oldest of the versions its registered engines are spoken to, so
 * every engine can serve what a client sends; MAX_API_VERSION while no engine is registered.
 */
export function clusterApiVersion(engineVersions: Iterable<string>): string {
  let v = MAX_API_VERSION;
  for (const e of engineVersions) v = minVersion(v, e);
  return compareApiVersions(v, MIN_API_VERSION) < 0 ? MIN_API_VERSION : v;
}

/** A client's requested version the manager refuses (as dockerd does), or undefined when it is served. */
export function refusedClientVersion(version: string | undefined): string | undefined {
  if (!version) return undefined;
  if (compareApiVersions(version, MAX_API_VERSION) > 0) return `client version ${version} is too new. Maximum supported API version is ${MAX_API_VERSION}`;
  if (compareApiVersions(version, MIN_API_VERSION) < 0) return `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`;
  return undefined;
}

/** Strips a leading `/v1.NN` from a request path; returns the bare path. */
export function stripVersionPrefix(path: string): { version?: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
  return m ? { version: m[1], path: m[2]! } : { path };
}
