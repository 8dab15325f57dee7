/** Changes to an engine's images, networks and volumes, with their events. */
import { ApiError } from '../../src/lib/errors';
import { normalizeImageRef } from '../../src/lib/scheduler/reference';
import { imageNotFound, pulledImage } from './images';
import type { JsonObject } from './json';
import { isRunning, type Image } from './model';
import { isoTime } from './random';
import type { EngineState } from './state';
import { checkVolumeCreate, checkVolumeRemove, newVolume, volumeJson } from './volumes';

/** A pull always succeeds: the image appears (fresh) unless it is there already. */
export function pull(s: EngineState, ref: string): { image: Image; fresh: boolean; tag: string } {
  const tag = normalizeImageRef(ref);
  const existing = s.lookupImage(tag);
  if (existing) return { image: existing, fresh: false, tag };
  const img = pulledImage(tag, s.rng);
  s.images.push(img);
  s.changed();
  s.events.emit('image', 'pull', tag, { name: tag.replace(/:latest$/, '') });
  return { image: img, fresh: true, tag };
}

/** DELETE /images/{name}: untags when other tags remain, else deletes (refused while a container uses it, unless forced for stopped ones). */
export function removeImage(s: EngineState, ref: string, force: boolean): JsonObject[] {
  const img = s.lookupImage(ref);
  if (!img) throw imageNotFound(ref);
  const short = img.id.slice(7, 19);
  const tag = normalizeImageRef(ref);
  const byTag = !ref.includes('@') && img.tags.includes(tag);
  if (byTag && img.tags.length > 1) {
    img.tags = img.tags.filter((t) => t !== tag);
    s.changed();
    s.events.emit('image', 'untag', img.id, { name: img.id });
    return [{ Untagged: tag }];
  }
  for (const c of s.containers.values()) {
    if (c.imageId !== img.id) continue;
    if (isRunning(c)) throw new ApiError(409, `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${c.id.slice(0, 12)}`);
    if (!force) {
      throw new ApiError(
        409,
        byTag
          ? `conflict: unable to remove repository reference "${ref}" (must force) - container ${c.id.slice(0, 12)} is using its referenced image ${short}`
          : `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${c.id.slice(0, 12)}`,
      );
    }
  }
  s.images.splice(s.images.indexOf(img), 1);
  s.changed();
  const out: JsonObject[] = [];
  for (const t of img.tags) {
    out.push({ Untagged: t });
    s.events.emit('image', 'untag', img.id, { name: img.id });
  }
  for (const d of img.digests) out.push({ Untagged: d });
  out.push({ Deleted: img.id });
  for (const l of img.layers) out.push({ Deleted: l });
  s.events.emit('image', 'delete', img.id, { name: img.id });
  return out;
}

export function createNetwork(s: EngineState, body: JsonObject): JsonObject {
  const n = s.networks.create(body);
  s.changed();
  s.events.emit('network', 'create', n.id, { name: n.name, type: n.driver });
  return { Id: n.id, Warning: '' };
}

export function removeNetwork(s: EngineState, ref: string): void {
  const n = s.networks.remove(ref, s.containers.values());
  s.changed();
  s.events.emit('network', 'destroy', n.id, { name: n.name, type: n.driver });
}

export function createVolume(s: EngineState, body: JsonObject): JsonObject {
  const name = typeof body.Name === 'string' && body.Name ? body.Name : s.rng.hex(64);
  let v = checkVolumeCreate(s.volumes, body, name);
  if (!v) {
    v = newVolume(body, name, isoTime(Date.now()));
    s.volumes.set(name, v);
    s.changed();
    s.events.emit('volume', 'create', name, { driver: 'local' });
  }
  return volumeJson(v);
}

export function removeVolume(s: EngineState, name: string): void {
  checkVolumeRemove(s.volumes, s.containers.values(), name);
  s.volumes.delete(name);
  s.changed();
  s.events.emit('volume', 'destroy', name, { driver: 'local' });
}
