/** One engine's volumes: named, compose's, and the anonymous ones images declare. */
import { ApiError } from '../../src/lib/errors';
import { labelsMatch, parseFilters } from '../../src/lib/api/respond';
import { checkFilterKeys } from './filters';
import { asStringMap, type JsonObject } from './json';
import type { Container, Volume } from './model';

export function volumeJson(v: Volume): JsonObject {
  return {
    CreatedAt: v.created.replace(/\.\d+Z$/, 'Z'),
    Driver: 'local',
    Labels: Object.keys(v.labels).length ? v.labels : null,
    Mountpoint: `/var/lib/docker/volumes/${v.name}/_data`,
    Name: v.name,
    Options: null,
    Scope: 'local',
  };
}

/** POST /volumes/create's checks; undefined when the name is free, else the existing volume (create is idempotent). */
export function checkVolumeCreate(volumes: Map<string, Volume>, body: JsonObject, name: string): Volume | undefined {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) {
    throw new ApiError(400, `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
  const driver = typeof body.Driver === 'string' && body.Driver ? body.Driver : 'local';
  if (driver !== 'local') throw new ApiError(404, `error looking up volume plugin ${driver}: plugin "${driver}" not found`);
  return volumes.get(name);
}

export function newVolume(body: JsonObject, name: string, created: string): Volume {
  return { name, created, labels: asStringMap(body.Labels), anonymous: !(typeof body.Name === 'string' && body.Name) };
}

/** DELETE /volumes/{name}'s checks: it exists and no container mounts it. */
export function checkVolumeRemove(volumes: Map<string, Volume>, containers: Iterable<Container>, name: string): void {
  if (!volumes.has(name)) throw new ApiError(404, `get ${name}: no such volume`);
  const users = [...containers].filter((c) => c.mounts.some((m) => m.Name === name)).map((c) => c.id);
  if (users.length) throw new ApiError(409, `remove ${name}: volume is in use - [${users.join(', ')}]`);
}

/** GET /volumes. */
export function volumeList(volumes: Map<string, Volume>, containers: Iterable<Container>, q: URLSearchParams): JsonObject {
  const f = parseFilters(q.get('filters'));
  checkFilterKeys(f, ['dangling', 'driver', 'label', 'name']);
  const inUse = new Set<string>();
  for (const c of containers) for (const m of c.mounts) if (m.Name) inUse.add(m.Name);
  const vols = [...volumes.values()].filter((v) => {
    const d = f.get('dangling');
    if (d && d.includes('true') !== !inUse.has(v.name)) return false;
    if (f.get('name') && !f.get('name')?.some((x) => v.name.includes(x))) return false;
    if (f.get('driver') && !f.get('driver')?.includes('local')) return false;
    return labelsMatch(v.labels, f.get('label') ?? []);
  });
  return { Volumes: vols.map(volumeJson), Warnings: null };
}

export function volumeInspect(volumes: Map<string, Volume>, name: string): JsonObject {
  const v = volumes.get(name);
  if (!v) throw new ApiError(404, `get ${name}: no such volume`);
  return volumeJson(v);
}
