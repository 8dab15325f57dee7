/**
 * The Docker Engine API payloads the manager reads or writes (API 1.24–1.41 shapes). Partial on
 * purpose: only the fields the code uses are named; the index signatures let every other field pass
 * through unchanged (lists and inspects are relayed to clients as the engine sent them).
 *
 * These types are the engine's (and the client's) wire contract: the JSON is cast to them where it is
 * decoded (`callJson`, `readJson`), not validated. Fields Docker always sends are required; anything a
 * caller must not count on is optional or `unknown`.
 */
import type { JsonObject, JsonValue } from '../scheduler/types';

export type { JsonObject, JsonValue };

// ---- containers -----------------------------------------------------------------------------------

/** One entry of a container's `Ports` in `GET /containers/json`. */
export interface PortSummary {
  IP?: string;
  PrivatePort?: number;
  PublicPort?: number;
  Type?: string;
  [key: string]: unknown;
}

/** One host binding of a port (`HostConfig.PortBindings`, `NetworkSettings.Ports`). */
interface PortBindingEntry {
  HostIp?: string;
  HostPort?: string;
  [key: string]: unknown;
}

/** `80/tcp` → its host bindings (null: exposed, not published). */
type PortMap = Record<string, PortBindingEntry[] | null>;

/** A mount as the container list and inspect report it. */
interface MountPoint {
  Type?: string;
  Name?: string;
  Source?: string;
  Destination?: string;
  [key: string]: unknown;
}

/** A container's endpoint on one network (`NetworkSettings.Networks[name]`). */
export interface EndpointSettings {
  NetworkID?: string;
  Aliases?: string[] | null;
  Links?: string[] | null;
  IPAMConfig?: unknown;
  [key: string]: unknown;
}

interface ContainerNetworkSettings {
  Networks?: Record<string, EndpointSettings> | null;
  Ports?: PortMap | null;
  [key: string]: unknown;
}

/** `HostConfig` of an inspect (the list carries only `NetworkMode`). */
export interface HostConfig {
  /** Relative CPU weight (Swarm reads it as a CPU count on create, see `engineCreateBody`). */
  CpuShares?: number;
  /** Memory limit in bytes (0: none). */
  Memory?: number;
  NetworkMode?: string;
  PortBindings?: PortMap | null;
  [key: string]: unknown;
}

/** `Config` of an inspect. */
export interface ContainerConfig {
  Image?: string;
  Hostname?: string;
  Labels?: Record<string, string> | null;
  ExposedPorts?: Record<string, unknown> | null;
  [key: string]: unknown;
}

interface ContainerHealth {
  Status?: string;
  [key: string]: unknown;
}

/** `State` of an inspect. */
export interface ContainerState {
  /** created, running, paused, restarting, removing, exited, dead */
  Status?: string;
  Running?: boolean;
  Restarting?: boolean;
  ExitCode?: number;
  /** RFC 3339 */
  StartedAt?: string;
  FinishedAt?: string;
  Health?: ContainerHealth | null;
  [key: string]: unknown;
}

/** One entry of `GET /containers/json`. Engines cache and share these: the arrays are read-only. */
export interface ContainerSummary {
  Id: string;
  /** `/name`, plus `/other/alias` per link. */
  Names?: readonly string[];
  Image?: string;
  ImageID?: string;
  /** Unix seconds. */
  Created?: number;
  State?: string;
  Status?: string;
  Labels?: Record<string, string> | null;
  Ports?: readonly PortSummary[] | null;
  Mounts?: readonly MountPoint[] | null;
  HostConfig?: HostConfig;
  NetworkSettings?: ContainerNetworkSettings | null;
  [key: string]: unknown;
}

/** `GET /containers/{id}/json`. */
export interface ContainerInspect {
  Id?: string;
  /** `/name` */
  Name?: string;
  /** RFC 3339 */
  Created?: string;
  State?: ContainerState;
  Config?: ContainerConfig;
  HostConfig?: HostConfig;
  NetworkSettings?: ContainerNetworkSettings;
  Mounts?: MountPoint[] | null;
  ExecIDs?: string[] | null;
  [key: string]: unknown;
}

/** `201` answer of a container create or an exec create. */
export interface IdResponse {
  Id: string;
  [key: string]: unknown;
}

/** `POST /containers/{id}/exec` body: open JSON; the manager only checks `Cmd`. */
export type ExecCreateBody = JsonObject;

// ---- images ---------------------------------------------------------------------------------------

/** One entry of `GET /images/json`. */
export interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  /** Unix seconds. */
  Created?: number;
  Labels?: Record<string, string> | null;
  [key: string]: unknown;
}

/** One message of a pull / load / import progress stream. */
export interface ProgressMessage {
  status?: string;
  id?: string;
  stream?: string;
  progress?: string;
  progressDetail?: unknown;
  error?: string;
  errorDetail?: { message?: string; [key: string]: unknown };
  [key: string]: unknown;
}

// ---- networks and volumes -------------------------------------------------------------------------

/** One entry of `GET /networks`. */
export interface NetworkResource {
  Id: string;
  Name: string;
  Driver: string;
  /** local, global, swarm */
  Scope: string;
  Labels?: Record<string, string> | null;
  [key: string]: unknown;
}

/** `POST /networks/create` body as the client sends it (`Name` may be `<node>/<name>`). */
export interface NetworkCreateBody {
  Name?: string;
  [key: string]: JsonValue | undefined;
}

/** `POST /networks/{id}/connect` and `/disconnect` body. */
export interface NetworkConnectBody {
  Container?: string;
  [key: string]: JsonValue | undefined;
}

/** One volume of `GET /volumes`. */
export interface Volume {
  Name: string;
  Driver: string;
  Labels?: Record<string, string> | null;
  [key: string]: unknown;
}

/** `GET /volumes`. */
export interface VolumeListResponse {
  Volumes?: Volume[] | null;
  Warnings?: string[] | null;
  [key: string]: unknown;
}

/** `POST /volumes/create` body as the client sends it (`Name` may be `<node>/<name>` or absent). */
export interface VolumeCreateBody {
  Name?: string;
  [key: string]: JsonValue | undefined;
}

// ---- system ---------------------------------------------------------------------------------------

/** `GET /info` of an engine. */
export interface EngineInfo {
  ID: string;
  Name: string;
  NCPU: number;
  /** Bytes. */
  MemTotal: number;
  Driver?: string;
  KernelVersion?: string;
  OperatingSystem?: string;
  OSType?: string;
  /** Daemon `--label` values, `key=value`. */
  Labels?: string[] | null;
  [key: string]: unknown;
}

/** `GET /version` of an engine. */
export interface EngineVersion {
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  [key: string]: unknown;
}

/** One message of `GET /events` (new `Type`/`Action`/`Actor` fields and the old `status`/`id`/`from`). */
export interface DockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  from?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  scope?: string;
  time?: number;
  timeNano?: number;
  [k: string]: unknown;
}
