/** What one simulated engine holds: its containers, images, networks and volumes. */
import type { Socket } from 'node:net';
import type { JsonObject } from './json';

type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export const STATUSES: readonly string[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

export interface Waiter {
  condition: WaitCondition;
  done: (code: number) => void;
}

export type Mount = {
  Type: string;
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
};

/** NetworkSettings.Ports: `80/tcp` → its host bindings (null: exposed, not published). */
export type PublishedPorts = Record<string, { HostIp: string; HostPort: string }[] | null>;

export interface Endpoint {
  network: string;
  aliases: string[] | null;
  ip: string;
  mac: string;
  endpointId: string;
}

export interface Container {
  id: string;
  name: string; // without the leading "/"
  createdMs: number;
  image: string; // Config.Image as given
  imageId: string;
  path: string;
  args: string[];
  config: JsonObject; // merged over the profile's Config defaults when shown
  hostConfig: JsonObject; // merged over the profile's HostConfig defaults when shown
  labels: Record<string, string>;
  network: string; // network name: bridge, host, none or a user network (HostConfig.NetworkMode)
  /** Every network the container is on, the primary first, with its endpoint while running. */
  endpoints: Endpoint[];
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  startedMs: number; // 0 = never
  finishedMs: number; // 0 = never
  restartCount: number;
  sandboxId: string;
  ports: PublishedPorts | null; // NetworkSettings.Ports while running
  /** Config.Healthcheck was set: State.Health is shown (healthy once started). */
  health: boolean;
  mounts: Mount[];
  sizeRw: number;
  sizeRootFs: number;
  exitTimer: ReturnType<typeof setTimeout> | undefined;
  waiters: Waiter[];
  /** What the simulated process printed (only echo prints), for logs and attach. */
  logs: string[];
}

/** Running in dockerd's sense (IsRunning): paused and restarting containers are. */
export function isRunning(c: Container): boolean {
  return c.status === 'running' || c.status === 'paused' || c.status === 'restarting';
}

/** A client attached to a container's output (`docker run` without -d, `docker start -a`). */
export interface Attacher {
  socket: Socket;
  tty: boolean;
  stdout: boolean;
}

export interface Image {
  id: string; // sha256:<hex>
  tags: string[];
  digests: string[];
  size: number;
  created: string;
  createdSec: number;
  config: JsonObject;
  layers: string[];
}

export interface Network {
  id: string;
  name: string;
  driver: string;
  scope: string;
  created: string;
  subnet: string;
  gateway: string;
  options: Record<string, string>;
  builtin: boolean;
  /** Second octet of the 172.x.0.0/16 subnet; 0 for host and none. */
  octet: number;
  labels: Record<string, string>;
  internal: boolean;
  attachable: boolean;
  usedIps: Set<number>;
  nextIp: number;
}

export interface Volume {
  name: string;
  created: string;
  labels: Record<string, string>;
  anonymous: boolean;
}
