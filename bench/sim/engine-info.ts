/** GET /info and GET /version of one engine, as the profile's dockerd answers them. */
import type { EngineProfile } from '../payloads/profile';
import type { JsonObject } from './json';
import { isoTime } from './random';
import type { EngineState } from './state';

const KERNEL = '5.15.0-91-generic';
const BUILD_TIME = '2023-04-04T18:41:24.000000000+00:00';
const SYSTEM_TIME = '\u0000SYSTEMTIME\u0000';
const SYSTEM_TIME_JSON = JSON.stringify(SYSTEM_TIME);

/** /info rendered once per generation, around its SystemTime (written per answer). */
const rendered = new WeakMap<EngineState, { gen: number; head: string; tail: string }>();

/** @param sockets the engine's open connections (NFd, NGoroutines). */
export function infoBody(s: EngineState, sockets: number): string {
  let r = rendered.get(s);
  if (!r || r.gen !== s.gen) {
    const text = `${JSON.stringify(infoJson(s, sockets))}\n`;
    const at = text.indexOf(SYSTEM_TIME_JSON);
    r = { gen: s.gen, head: text.slice(0, at), tail: text.slice(at + SYSTEM_TIME_JSON.length) };
    rendered.set(s, r);
  }
  return `${r.head}"${isoTime(Date.now())}"${r.tail}`;
}

function infoJson(s: EngineState, sockets: number): JsonObject {
  const k = s.counts();
  const listeners = s.events.listeners;
  return {
    ID: s.id,
    Containers: k.total,
    ContainersRunning: k.running,
    ContainersPaused: k.paused,
    ContainersStopped: k.stopped,
    Images: k.images,
    Driver: 'overlay2',
    DriverStatus: [
      ['Backing Filesystem', 'extfs'],
      ['Supports d_type', 'true'],
      ['Native Overlay Diff', 'true'],
      ['userxattr', 'false'],
    ],
    Plugins: {
      Volume: ['local'],
      Network: ['bridge', 'host', 'ipvlan', 'macvlan', 'null', 'overlay'],
      Authorization: null,
      Log: ['awslogs', 'fluentd', 'gcplogs', 'gelf', 'journald', 'json-file', 'local', 'logentries', 'splunk', 'syslog'],
    },
    MemoryLimit: true,
    SwapLimit: true,
    KernelMemory: true,
    KernelMemoryTCP: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    BridgeNfIptables: true,
    BridgeNfIp6tables: true,
    Debug: false,
    NFd: 24 + sockets,
    OomKillDisable: true,
    NGoroutines: 33 + listeners * 2 + sockets,
    SystemTime: SYSTEM_TIME,
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: '1',
    NEventsListener: listeners,
    KernelVersion: KERNEL,
    OperatingSystem: 'Ubuntu 22.04.3 LTS',
    OSVersion: '22.04',
    OSType: 'linux',
    Architecture: 'x86_64',
    IndexServerAddress: 'https://index.docker.io/v1/',
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: [],
      AllowNondistributableArtifactsHostnames: [],
      InsecureRegistryCIDRs: ['127.0.0.0/8'],
      IndexConfigs: { 'docker.io': { Name: 'docker.io', Mirrors: [], Secure: true, Official: true } },
      Mirrors: [],
    },
    NCPU: s.cfg.ncpu,
    MemTotal: s.cfg.memTotal,
    GenericResources: null,
    DockerRootDir: '/var/lib/docker',
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: s.name,
    Labels: s.cfg.labels,
    ExperimentalBuild: false,
    ServerVersion: s.p.version,
    Runtimes: {
      'io.containerd.runc.v2': { path: 'runc' },
      'io.containerd.runtime.v1.linux': { path: 'runc' },
      runc: { path: 'runc' },
    },
    DefaultRuntime: 'runc',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: 'docker-init',
    ContainerdCommit: { ID: '2806fc1057397dbaeefbea0e4e17bddfbd388f38', Expected: '2806fc1057397dbaeefbea0e4e17bddfbd388f38' },
    RuncCommit: { ID: 'v1.1.5-0-gf19387a', Expected: 'v1.1.5-0-gf19387a' },
    InitCommit: { ID: 'de40ad0', Expected: 'de40ad0' },
    SecurityOptions: ['name=apparmor', 'name=seccomp,profile=default'],
    Warnings: null,
  };
}

export function versionJson(p: EngineProfile): JsonObject {
  return {
    Platform: { Name: 'Docker Engine - Community' },
    Components: [
      {
        Name: 'Engine',
        Version: p.version,
        Details: {
          ApiVersion: p.apiVersion,
          Arch: 'amd64',
          BuildTime: 'Tue Apr  4 18:41:24 2023',
          Experimental: 'false',
          GitCommit: p.gitCommit,
          GoVersion: p.goVersion,
          KernelVersion: KERNEL,
          MinAPIVersion: p.minApiVersion,
          Os: 'linux',
        },
      },
      { Name: 'containerd', Version: '1.6.20', Details: { GitCommit: '2806fc1057397dbaeefbea0e4e17bddfbd388f38' } },
      { Name: 'runc', Version: '1.1.5', Details: { GitCommit: 'v1.1.5-0-gf19387a' } },
      { Name: 'docker-init', Version: '0.19.0', Details: { GitCommit: 'de40ad0' } },
    ],
    Version: p.version,
    ApiVersion: p.apiVersion,
    MinAPIVersion: p.minApiVersion,
    GitCommit: p.gitCommit,
    GoVersion: p.goVersion,
    Os: 'linux',
    Arch: 'amd64',
    KernelVersion: KERNEL,
    BuildTime: BUILD_TIME,
  };
}
