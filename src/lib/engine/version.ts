/** Docker API versions (`1.41`) compared numerically. */

/**
 * The API version the manager advertises. Docker CLI v28 refuses servers below 1.24 and negotiates
 * down to what the server says; 1.41 is what the Debian 20.10 engines speak, so the CLI, the manager
 * and the engines agree on one version and request/response shapes pass through unchanged.
 * (Swarm v1.2.9 advertised 1.30, which today's CLI would also accept, but with older shapes.)
 */
export const API_VERSION = '1.41';
export const MIN_API_VERSION = '1.24';

export function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number(n) || 0);
  const pb = b.split('.').map((n) => Number(n) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** The version to talk to an engine at: the lower of its version and ours. */
export function negotiateApiVersion(engineVersion: string | undefined): string {
  if (!engineVersion || !/^\d+\.\d+$/.test(engineVersion)) return MIN_API_VERSION;
  return compareApiVersions(engineVersion, API_VERSION) < 0 ? engineVersion : API_VERSION;
}

/** Strips a leading `/v1.NN` from a request path; returns the bare path. */
export function stripVersionPrefix(path: string): { version?: string; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
  return m ? { version: m[1], path: m[2]! } : { path };
}
