/** POST /containers/create: the checks dockerd makes, the defaults it fills in, and the new container. */
import { ApiError } from '../../src/lib/errors';
import type { EngineProfile } from '../payloads/profile';
import { imageNotFound, validReference } from './images';
import { asObject, asStringArray, type JsonObject } from './json';
import type { Container } from './model';
import { isoTime } from './random';
import { volumeMount, type EngineState } from './state';

const NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** dockerd's container name rule, and its message. */
export function checkContainerName(name: string | null): string {
  if (!name || !NAME.test(name)) throw new ApiError(400, `Invalid container name (${name ?? ''}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  return name.startsWith('/') ? name.slice(1) : name;
}

export function nameConflict(plain: string, taken: Container): ApiError {
  return new ApiError(
    409,
    `Conflict. The container name "/${plain}" is already in use by container "${taken.id}". You have to remove (or rename) that container to be able to reuse that name.`,
  );
}

/** What the daemon fills in for zero values the client sends (daemon.adaptContainerSettings and friends). */
function applyHostConfigDefaults(hc: JsonObject, profile: EngineProfile): JsonObject {
  const out: JsonObject = { ...hc };
  const log = asObject(out.LogConfig);
  if (!log || !log.Type) out.LogConfig = { Type: 'json-file', Config: asObject(log?.Config) ?? {} };
  if (!out.NetworkMode) out.NetworkMode = 'default';
  if (!out.ShmSize) out.ShmSize = 67_108_864;
  if (!out.IpcMode) out.IpcMode = 'private';
  if (!out.CgroupnsMode) out.CgroupnsMode = 'host';
  if (!out.Runtime) out.Runtime = 'runc';
  if (out.MemorySwappiness === -1) out.MemorySwappiness = null;
  if (out.PidsLimit === 0) out.PidsLimit = null;
  if (typeof out.Memory === 'number' && out.Memory > 0 && !out.MemorySwap) out.MemorySwap = out.Memory * 2;
  if (out.Privileged !== true) {
    if (!Array.isArray(out.MaskedPaths)) out.MaskedPaths = profile.hostConfigDefaults.MaskedPaths ?? null;
    if (!Array.isArray(out.ReadonlyPaths)) out.ReadonlyPaths = profile.hostConfigDefaults.ReadonlyPaths ?? null;
  }
  const rp = asObject(out.RestartPolicy);
  if (!rp || !rp.Name) out.RestartPolicy = { Name: 'no', MaximumRetryCount: 0 };
  return out;
}

export function createContainer(s: EngineState, name: string | null, body: JsonObject): Container {
  if (name !== null && name !== '') {
    const plain = checkContainerName(name);
    const taken = s.byName.get(plain);
    if (taken) throw nameConflict(plain, taken);
  }
  const imageRef = typeof body.Image === 'string' ? body.Image : '';
  if (!imageRef) throw new ApiError(400, 'No command specified');
  const image = s.lookupImage(imageRef);
  if (!image) {
    if (!validReference(imageRef) && !imageRef.startsWith('sha256:')) throw new ApiError(400, 'invalid reference format');
    throw imageNotFound(imageRef);
  }
  const hostConfig = applyHostConfigDefaults(asObject(body.HostConfig) ?? {}, s.p);
  const netMode = typeof hostConfig.NetworkMode === 'string' ? hostConfig.NetworkMode : 'default';
  const network = netMode === 'default' || netMode === '' ? 'bridge' : netMode;
  // dockerd 23 and later write the default network mode out as its name.
  if (network === 'bridge' && s.p.kind !== '20.10') hostConfig.NetworkMode = 'bridge';
  if (!network.startsWith('container:') && !s.lookupNetwork(network)) throw new ApiError(404, `network ${network} not found`);
  // API 1.44 and later connect a container to every network of EndpointsConfig at create.
  const endpoints = asObject(asObject(body.NetworkingConfig)?.EndpointsConfig) ?? {};
  const primary = network.startsWith('container:') ? 'none' : (s.lookupNetwork(network)?.name ?? network);
  const more = Object.keys(endpoints)
    .map((k) => s.lookupNetwork(k)?.name)
    .filter((k): k is string => k !== undefined && k !== primary);
  const user: JsonObject = { ...body };
  delete user.HostConfig;
  delete user.NetworkingConfig;
  const id = s.rng.hex(64);
  const config = s.makeConfig(id, image, user);
  if (!asStringArray(config.Cmd)?.length && !asStringArray(config.Entrypoint)?.length) throw new ApiError(400, 'No command specified');
  const plainName = name ? (name.startsWith('/') ? name.slice(1) : name) : s.randomName();
  const createdMs = Date.now();
  const c = s.newContainer(id, plainName, createdMs, image, { ...user, Image: imageRef }, hostConfig, [primary, ...more]);
  for (const ep of c.endpoints) {
    const cfg = asObject(endpoints[ep.network]) ?? asObject(Object.entries(endpoints).find(([k]) => s.lookupNetwork(k)?.name === ep.network)?.[1]);
    const aliases = asStringArray(cfg?.Aliases);
    if (aliases?.length) ep.aliases = aliases;
  }
  for (const bind of asStringArray(hostConfig.Binds) ?? []) {
    const [src = '', dest = '', mode = ''] = bind.split(':');
    if (!dest) continue;
    if (src.startsWith('/')) {
      c.mounts.push({ Type: 'bind', Source: src, Destination: dest, Mode: mode, RW: !/(^|,)ro(,|$)/.test(mode), Propagation: 'rprivate' });
    } else {
      if (!s.volumes.has(src)) {
        s.volumes.set(src, { name: src, created: isoTime(createdMs), labels: {}, anonymous: false });
        s.events.emit('volume', 'create', src, { driver: 'local' });
      }
      c.mounts.push(volumeMount(src, dest, mode || 'z'));
    }
  }
  s.attachImageVolumes(c, image, createdMs);
  s.changed();
  s.containerEvent(c, 'create');
  return c;
}
