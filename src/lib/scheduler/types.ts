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
  /** Reserved CPUs (Swarm reads CpuShares as a CPU count) and memory bytes. */
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
