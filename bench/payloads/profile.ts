/**
 * What one kind of dockerd answers, read from the objects captured on real engines
 * (bench/payloads/dockerd-<kind>.json, made by bench/payloads/capture.ts): the version block, the
 * defaults a container gets when the docker CLI creates it with no options, the key order and zero
 * values of every object the simulator serves, and the compose project's labels, healthcheck and
 * probe log. The simulator fills these templates with each container's own values, so its
 * payloads have the size and shape of the real engine's.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export type EngineKind = '20.10' | '26';

export interface EngineProfile {
  kind: EngineKind;
  /** What /version and /info report (the captured version with a `-sim` suffix). */
  version: string;
  apiVersion: string;
  minApiVersion: string;
  goVersion: string;
  gitCommit: string;
  /** HostConfig and Config of a container the docker CLI created with no options. */
  hostConfigDefaults: JsonObject;
  configDefaults: JsonObject;
  /** HostConfig fields `docker compose` sends differently from the CLI (nulls for empty lists). */
  composeHostConfig: JsonObject;
  /** Key order of a container inspect, its State and NetworkSettings (without Networks). */
  inspectKeys: string[];
  stateZero: JsonObject;
  networkSettingsZero: JsonObject;
  /** One network endpoint of a created (unconnected) container, in the list and the inspect. */
  endpointZero: JsonObject;
  /** GraphDriver of a container on overlay2 (the default storage driver). */
  graphDriver: (id: string) => JsonObject;
  /** A compose project container's labels (config-hash, project, service, working dir...). */
  composeLabels: Record<string, string>;
  /** The captured healthcheck and the five probe results a healthy container carries. */
  healthcheck: JsonObject;
  healthLog: JsonObject[];
  /** Key order (and the fields only some versions send) of an image list entry and inspect. */
  imageSummaryKeys: string[];
  imageInspect: JsonObject;
  networkKeys: string[];
  volumeKeys: string[];
  /** Sizes (bytes of JSON) of the captured objects, for the benchmark's documentation. */
  sizes: JsonObject;
}

interface Captured {
  engine: { Version: string; ApiVersion: string; MinAPIVersion: string };
  sizes: JsonObject;
  containers: { name: string; state: string; summary: JsonObject; inspect: JsonObject }[];
  images: JsonObject[];
  imageInspect: JsonObject;
  networkInspect: JsonObject;
  volumes: { Volumes: JsonObject[] };
}

const GO: Record<EngineKind, { go: string; commit: string }> = {
  '20.10': { go: 'go1.19.7', commit: '5d6db84' },
  '26': { go: 'go1.21.13', commit: '411e817' },
};

const cache = new Map<EngineKind, EngineProfile>();

function obj(v: Json | undefined): JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** The fields compose sets to another zero value than the CLI does (Dns: null where the CLI sends []). */
function composeOnly(cli: JsonObject, compose: JsonObject): JsonObject {
  const own = new Set(['Binds', 'NetworkMode', 'PortBindings', 'RestartPolicy', 'Memory', 'NanoCpus', 'MemorySwap', 'Mounts']);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(compose)) if (!own.has(k) && JSON.stringify(v) !== JSON.stringify(cli[k])) out[k] = v;
  return out;
}

export function loadProfile(kind: EngineKind): EngineProfile {
  const hit = cache.get(kind);
  if (hit) return hit;
  const doc = JSON.parse(readFileSync(join(import.meta.dir, `dockerd-${kind}.json`), 'utf8')) as Captured;
  const byName = new Map(doc.containers.map((c) => [c.name, c]));
  const plain = byName.get('plain-created');
  const web = byName.get('shop-web-1');
  if (!plain || !web) throw new Error(`dockerd-${kind}.json lacks plain-created or shop-web-1`);
  const { Hostname: _h, Cmd: _c, Image: _i, Labels: _l, Env: _e, ...configDefaults } = obj(plain.inspect.Config);
  const { Networks: _n, ...networkSettingsZero } = obj(plain.inspect.NetworkSettings);
  const endpointZero = Object.values(obj(obj(plain.inspect.NetworkSettings).Networks))[0];
  const webState = obj(web.inspect.State);
  // Every install but the test bed's btrfs host uses overlay2: its GraphDriver is the 20.10 capture's.
  const overlay = kind === '20.10' ? doc : (JSON.parse(readFileSync(join(import.meta.dir, 'dockerd-20.10.json'), 'utf8')) as Captured);
  const overlayData = obj(obj(overlay.containers.find((c) => c.name === 'plain-created')?.inspect.GraphDriver).Data);
  const layerOf = /overlay2\/([0-9a-f]{64})-init/.exec(String(overlayData.LowerDir ?? ''))?.[1] ?? '';
  const profile: EngineProfile = {
    kind,
    version: `${doc.engine.Version.replace(/\+.*$/, '')}-sim`,
    apiVersion: doc.engine.ApiVersion,
    minApiVersion: doc.engine.MinAPIVersion,
    goVersion: GO[kind].go,
    gitCommit: GO[kind].commit,
    hostConfigDefaults: obj(plain.inspect.HostConfig),
    composeHostConfig: composeOnly(obj(plain.inspect.HostConfig), obj(web.inspect.HostConfig)),
    configDefaults,
    inspectKeys: Object.keys(plain.inspect),
    stateZero: obj(plain.inspect.State),
    networkSettingsZero,
    endpointZero: obj(endpointZero),
    graphDriver: (id) => {
      const data: JsonObject = {};
      for (const [k, v] of Object.entries(overlayData)) data[k] = typeof v === 'string' && layerOf ? v.split(layerOf).join(id) : v;
      return { Data: data, Name: 'overlay2' };
    },
    composeLabels: obj(web.inspect.Config && obj(web.inspect.Config).Labels) as Record<string, string>,
    healthcheck: obj(obj(web.inspect.Config).Healthcheck),
    healthLog: (obj(webState.Health).Log as JsonObject[] | undefined) ?? [],
    imageSummaryKeys: Object.keys(doc.images[0] ?? {}),
    imageInspect: doc.imageInspect,
    networkKeys: Object.keys(doc.networkInspect),
    volumeKeys: Object.keys(doc.volumes.Volumes[0] ?? {}),
    sizes: doc.sizes,
  };
  cache.set(kind, profile);
  return profile;
}
