/**
 * One simulated engine's state: its identity, tables (containers, images, networks, volumes), the
 * lookups by reference, and the bookkeeping every change does (generation for the caches, events).
 * The changes themselves are in lifecycle.ts; population in populate.ts.
 */
import { ApiError } from '../../src/lib/errors';
import type { EngineProfile } from '../payloads/profile';
import { EventLog } from './events';
import { findImage, initialImages } from './images';
import { asObject, asStringArray, asStringMap, nonEmpty, type JsonObject } from './json';
import { isRunning, type Attacher, type Container, type Image, type Mount, type Network, type Volume } from './model';
import { NetworkTable } from './networks';
import { ADJECTIVES, isoTime, SURNAMES, type Rng } from './random';

/** basic: containers of four images on the default bridge; compose: compose projects (see populate.ts). */
export type Workload = 'basic' | 'compose';

export interface EngineConfig {
  index: number;
  name: string;
  host: string;
  port: number;
  labels: string[];
  ncpu: number;
  memTotal: number;
  latencyMs: number;
  jitterMs: number;
  autoExit: boolean;
  rng: Rng;
  profile: EngineProfile;
  workload: Workload;
}

export class EngineState {
  readonly id: string;
  readonly name: string;
  readonly p: EngineProfile;
  readonly rng: Rng;
  readonly bootMs = Date.now();
  readonly containers = new Map<string, Container>(); // insertion order = creation order
  readonly byName = new Map<string, Container>();
  readonly images: Image[] = initialImages();
  readonly networks: NetworkTable;
  readonly volumes = new Map<string, Volume>();
  readonly events = new EventLog(() => this.changed());
  /** Clients attached to a container's output, by container ID. */
  readonly attachers = new Map<string, Set<Attacher>>();
  /** Unfiltered container lists, by `all` and `size`, valid for one generation. */
  readonly listCache = new Map<string, { gen: number; at: number; body: string }>();
  /** Bumped by every change: what /info and the list caches are valid for. */
  gen = 0;

  constructor(readonly cfg: EngineConfig) {
    this.p = cfg.profile;
    this.rng = cfg.rng;
    const b32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    const groups: string[] = [];
    for (let g = 0; g < 12; g++) {
      let s = '';
      for (let k = 0; k < 4; k++) s += b32[this.rng.int(32)];
      groups.push(s);
    }
    this.id = groups.join(':');
    this.name = cfg.name;
    this.networks = new NetworkTable(this.rng, this.bootMs);
    const created = isoTime(this.bootMs - 86_400_000 * 30);
    this.volumes.set(`data-${cfg.index}`, { name: `data-${cfg.index}`, created, labels: { 'com.example.purpose': 'data' }, anonymous: false });
  }

  changed(): void {
    this.gen++;
  }

  // -------------------------------------------------------------------------------------------
  // Lookups

  /** dockerd's GetContainer: full ID, then name, then unique ID prefix (not the manager's findContainer: no swarm IDs or node/name). */
  lookup(ref: string): Container {
    const byId = this.containers.get(ref);
    if (byId) return byId;
    const byName = this.byName.get(ref.startsWith('/') ? ref.slice(1) : ref);
    if (byName) return byName;
    if (ref && /^[0-9a-f]+$/.test(ref)) {
      let found: Container | undefined;
      for (const c of this.containers.values()) {
        if (c.id.startsWith(ref)) {
          if (found) throw new ApiError(400, `multiple IDs found with provided prefix: ${ref}`);
          found = c;
        }
      }
      if (found) return found;
    }
    throw new ApiError(404, `No such container: ${ref}`);
  }

  lookupImage(ref: string): Image | undefined {
    return findImage(this.images, ref);
  }

  lookupImageId(ref: string): string | undefined {
    return this.lookupImage(ref)?.id;
  }

  lookupNetwork(ref: string): Network | undefined {
    return this.networks.lookup(ref);
  }

  counts(): { total: number; running: number; paused: number; stopped: number; images: number } {
    let running = 0;
    let paused = 0;
    for (const c of this.containers.values()) {
      if (c.status === 'paused') paused++;
      else if (c.status === 'running' || c.status === 'restarting') running++;
    }
    const total = this.containers.size;
    return { total, running, paused, stopped: total - running - paused, images: this.images.length };
  }

  /** Capacity and reservations (every container's HostConfig.Memory and CPUs), for overbooking checks. */
  usage(addr: string): JsonObject {
    let memory = 0;
    let nanoCpus = 0;
    let running = 0;
    for (const c of this.containers.values()) {
      memory += Number(c.hostConfig.Memory ?? 0) || 0;
      nanoCpus += Number(c.hostConfig.NanoCpus ?? 0) || 0;
      if (isRunning(c)) running++;
    }
    return { name: this.name, addr, ncpu: this.cfg.ncpu, memTotal: this.cfg.memTotal, containers: this.containers.size, running, reservedMemory: memory, reservedCpus: nanoCpus / 1e9 };
  }

  // -------------------------------------------------------------------------------------------
  // Events of a change

  containerEvent(c: Container, action: string, extra?: Record<string, string>): void {
    this.events.emit('container', action, c.id, { ...c.labels, image: c.image, name: c.name, ...extra }, c.image);
  }

  networkEvent(c: Container, action: 'connect' | 'disconnect'): void {
    for (const ep of c.endpoints) {
      const n = this.networks.lookup(ep.network);
      if (!n || n.name === 'host' || n.name === 'none') continue;
      this.events.emit('network', action, n.id, { container: c.id, name: n.name, type: n.driver });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Making containers

  /** A container as `create` makes it, in the engine's tables, not started. */
  newContainer(id: string, name: string, createdMs: number, image: Image, user: JsonObject, hostConfig: JsonObject, networks: string[]): Container {
    const config = this.makeConfig(id, image, user);
    const argv = [...(asStringArray(config.Entrypoint) ?? []), ...(asStringArray(config.Cmd) ?? [])];
    const c: Container = {
      id,
      name,
      createdMs,
      image: typeof user.Image === 'string' ? user.Image : (image.tags[0]?.replace(/:latest$/, '') ?? image.id),
      imageId: image.id,
      path: argv[0] ?? '',
      args: argv.slice(1),
      config,
      hostConfig,
      labels: asStringMap(config.Labels),
      network: networks[0] ?? 'none',
      endpoints: networks.map((network) => ({ network, aliases: null, ip: '', mac: '', endpointId: '' })),
      status: 'created',
      pid: 0,
      exitCode: 0,
      startedMs: 0,
      finishedMs: 0,
      restartCount: 0,
      sandboxId: '',
      ports: null,
      health: asObject(config.Healthcheck) !== undefined,
      mounts: [],
      sizeRw: 0,
      sizeRootFs: image.size,
      exitTimer: undefined,
      waiters: [],
      logs: [],
    };
    this.containers.set(id, c);
    this.byName.set(name, c);
    return c;
  }

  /** Config as dockerd merges the image's over the client's (env by key, Cmd unless an Entrypoint is given...). */
  makeConfig(id: string, image: Image, user: JsonObject): JsonObject {
    const ic = image.config;
    const env = asStringArray(user.Env) ?? [];
    const imgEnv = asStringArray(ic.Env) ?? [];
    let mergedEnv: string[] = imgEnv;
    if (env.length) {
      const keys = new Set(env.map((e) => e.split('=')[0]));
      mergedEnv = [...imgEnv.filter((e) => !keys.has(e.split('=')[0])), ...env];
    }
    const userCmd = user.Cmd;
    const userEntry = user.Entrypoint;
    const hasEntry = Array.isArray(userEntry) ? userEntry.length > 0 : typeof userEntry === 'string' && userEntry !== '';
    const cmd = Array.isArray(userCmd) && userCmd.length > 0 ? userCmd : hasEntry ? null : (ic.Cmd ?? null);
    const labels = { ...asStringMap(ic.Labels), ...asStringMap(user.Labels) };
    const exposed = { ...(asObject(ic.ExposedPorts) ?? {}), ...(asObject(user.ExposedPorts) ?? {}) };
    const out: JsonObject = {
      ...user,
      Hostname: typeof user.Hostname === 'string' && user.Hostname ? user.Hostname : id.slice(0, 12),
      Env: mergedEnv,
      Cmd: cmd,
      Image: typeof user.Image === 'string' ? user.Image : (image.tags[0]?.replace(/:latest$/, '') ?? image.id),
      Entrypoint: hasEntry ? (userEntry ?? null) : (ic.Entrypoint ?? null),
      Labels: labels,
      Volumes: nonEmpty(asObject(user.Volumes)) ?? nonEmpty(asObject(ic.Volumes)) ?? null,
      WorkingDir: typeof user.WorkingDir === 'string' && user.WorkingDir ? user.WorkingDir : typeof ic.WorkingDir === 'string' ? ic.WorkingDir : '',
    };
    if (Object.keys(exposed).length) out.ExposedPorts = exposed;
    else delete out.ExposedPorts;
    if (typeof ic.StopSignal === 'string' && out.StopSignal === undefined) out.StopSignal = ic.StopSignal;
    return out;
  }

  /** An anonymous volume for each volume the image declares that no mount covers. */
  attachImageVolumes(c: Container, image: Image, createdMs: number): void {
    const vols = asObject(image.config.Volumes);
    if (!vols) return;
    for (const dest of Object.keys(vols)) {
      if (c.mounts.some((m) => m.Destination === dest)) continue;
      const name = this.rng.hex(64);
      this.volumes.set(name, { name, created: isoTime(createdMs), labels: {}, anonymous: true });
      c.mounts.push(volumeMount(name, dest, ''));
    }
  }

  /** Docker's generated names (`adjective_surname`), a digit added on a clash. */
  randomName(): string {
    for (;;) {
      let name = `${this.rng.pick(ADJECTIVES)}_${this.rng.pick(SURNAMES)}`;
      if (this.byName.has(name)) name += String(this.rng.int(10));
      if (!this.byName.has(name)) return name;
    }
  }
}

export function volumeMount(name: string, dest: string, mode: string): Mount {
  return {
    Type: 'volume',
    Name: name,
    Source: `/var/lib/docker/volumes/${name}/_data`,
    Destination: dest,
    Driver: 'local',
    Mode: mode,
    RW: !/(^|,)ro(,|$)/.test(mode),
    Propagation: '',
  };
}
