/**
 * Plain data the scheduler works on: a snapshot of the cluster's nodes and one create request.
 * No sockets, no clocks: the manager builds these from its engine caches and calls placeContainer.
 */

/** A port binding as Docker's HostConfig.PortBindings / container list report it. */
export interface PortBinding {
  /** e.g. `80/tcp` */
  containerPort: string;
  /** '' means all interfaces (as do 0.0.0.0 and ::). */
  hostIp: string;
  /** '' means a random port (never conflicts). */
  hostPort: string;
}

export interface ContainerSnapshot {
  id: string;
  /** Names without the leading slash. */
  names: string[];
  image: string;
  /** running, exited, created, paused, restarting, dead; `pending` for a reservation not yet created. */
  state: string;
  labels: Record<string, string>;
  /** Reserved CPUs (`-c` read as a CPU count, or `--cpus`: see containerCpus) and memory bytes. */
  cpus: number;
  memory: number;
  portBindings: PortBinding[];
  /** HostConfig.NetworkMode ('default', 'bridge', 'host', 'container:<id>', '<network name>'). */
  networkMode: string;
  /** Config.ExposedPorts keys, e.g. `80/tcp` (used by the host-mode port rule). */
  exposedPorts: string[];
}

export interface ImageSnapshot {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

export interface NodeSnapshot {
  /** Engine ID as the cluster knows it (`<daemon id>|<addr>`). */
  id: string;
  name: string;
  addr: string;
  ip: string;
  /** Built-ins (storagedriver, kernelversion, operatingsystem, ostype) and daemon --label pairs. */
  labels: Record<string, string>;
  /**
   * Raw engine NCPU and MemTotal (bytes), WITHOUT overcommit: the strategies add `swarm.overcommit`
   * themselves (capacity = raw + raw×percent/100 in integer math, as v1 does).
   */
  totalCpus: number;
  totalMemory: number;
  /** 0..100: 0 when not healthy; 100 − failures×100/retry otherwise (spec §4.2). */
  healthIndicator: number;
  /** In maintenance: keeps its containers, takes no new ones. */
  drained: boolean;
  /** Every container on the node, any state, plus pending reservations. */
  containers: ContainerSnapshot[];
  images: ImageSnapshot[];
}

/** A Docker JSON value (the body of POST /containers/create and friends). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * One container create as the scheduler sees it: what it asks for (resources, ports, dependencies)
 * and the placement expressions. Built by `parseCreateRequest` (request.ts); treat as immutable.
 */
export interface ContainerRequest {
  /** Requested container name without a leading slash; '' when none. */
  name: string;
  image: string;
  /** Raw expression texts (`node==n1`, `region==~us*`), parsed by the filters. */
  constraints: string[];
  affinities: string[];
  whitelists: string[];
  reschedulePolicies: string[];
  /** HostConfig.Memory in bytes (0 = no reservation). */
  memory: number;
  /** CPUs reserved: HostConfig.CpuShares read as a number of CPUs, or NanoCpus (`--cpus`); see requestedCpus. */
  cpus: number;
  /** HostConfig.PortBindings flattened, in body order. */
  portBindings: PortBinding[];
  /** Config.ExposedPorts keys. */
  exposedPorts: string[];
  /** HostConfig.NetworkMode as given ('' when absent). */
  networkMode: string;
  /** HostConfig.VolumesFrom entries (`name[:ro|rw]`). */
  volumesFrom: string[];
  /** HostConfig.Links entries (`name:alias`). */
  links: string[];
  /** Container labels after the swarm labels were written back. */
  labels: Record<string, string>;
  /**
   * The cleaned create body to send to an engine: Env without the scheduler entries, merged expression
   * arrays in the com.docker.swarm.* labels, legacy top-level resources merged into HostConfig.
   * HostConfig.CpuShares still counts CPUs: convert with `engineCreateBody` for the chosen engine.
   */
  config: JsonObject;
  /**
   * Beyond v1: objects the container uses that live on some nodes only (a local network), set by the
   * implicit rules. Hard (both passes), never written to labels: elsewhere the engine would refuse it.
   */
  locality?: LocalityRequirement[];
}

/** Something a container needs that only some nodes hold. */
export interface LocalityRequirement {
  /** As texts name it: `network n1net`. */
  what: string;
  /** Names of the nodes that hold it. */
  nodes: string[];
}
