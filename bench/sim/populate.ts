/** The containers an engine starts with: plain ones on the bridge (basic) or compose projects. */
import type { Json, JsonObject } from './json';
import type { Container, Image } from './model';
import { ADJECTIVES, isoTime } from './random';
import { volumeMount, type EngineState } from './state';

export function populate(s: EngineState, n: number): void {
  if (s.cfg.workload === 'compose') populateCompose(s, n);
  else populateBasic(s, n);
}

/** Containers of the four images with a few labels and ports, on the default bridge. */
function populateBasic(s: EngineState, n: number): void {
  const r = s.rng;
  const now = Date.now();
  const apps = ['web', 'api', 'cache', 'worker', 'db'];
  for (let i = 0; i < n; i++) {
    const createdMs = now - 86_400_000 * 20 + Math.floor(((i + r.float()) / Math.max(n, 1)) * 86_400_000 * 19);
    const roll = r.float();
    const app = apps[i % apps.length] as string;
    let image: Image;
    let cmd: string[] | null = null;
    let hostConfig: JsonObject = {};
    if (app === 'web' && roll < 0.9) {
      image = s.images[1] as Image;
      hostConfig = { PortBindings: i % 2 === 0 ? { '80/tcp': [{ HostIp: '', HostPort: String(8000 + i) }] } : { '80/tcp': [{ HostIp: '', HostPort: '' }] } };
    } else if (app === 'cache') {
      image = s.images[2] as Image;
    } else if (app === 'db') {
      image = s.images[3] as Image;
      cmd = ['sh', '-c', 'while true; do sleep 3600; done'];
    } else {
      image = s.images[0] as Image;
      cmd = ['sh', '-c', `while true; do echo ${app} ${i}; sleep 60; done`];
    }
    if (i % 7 === 3) hostConfig = { ...hostConfig, Memory: 268_435_456, CpuShares: 512 };
    const labels: Record<string, string> = { 'com.example.app': app, 'com.example.tier': app === 'web' || app === 'api' ? 'frontend' : 'backend' };
    if (i % 4 === 0) labels['com.example.env'] = 'prod';
    const name = i % 3 === 0 ? `${app}-${i}` : s.randomName();
    const c = s.newContainer(r.hex(64), name, createdMs, image, { Cmd: cmd, Labels: labels }, hostConfig, ['bridge']);
    c.sizeRw = r.int(1 << 20);
    s.attachImageVolumes(c, image, createdMs);
    settle(s, c, i, roll, createdMs, now);
  }
}

/**
 * Compose projects of five services (web, api, worker, cache, db) as `docker compose up` makes
 * them, after the project captured on a real engine: its labels, two networks (front, back),
 * named volumes and a bind mount, healthchecks, a published port, limits and a restart policy.
 */
function populateCompose(s: EngineState, n: number): void {
  const r = s.rng;
  const now = Date.now();
  const services = [
    { name: 'web', image: 1, nets: ['front', 'back'], volume: 'static', dest: '/usr/share/nginx/html', health: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://localhost/'], ports: true, limits: true },
    { name: 'api', image: 0, cmd: ['sh', '-c', 'while true; do sleep 3600; done'], nets: ['front', 'back'], volume: 'data', dest: '/var/lib/app', health: ['CMD-SHELL', 'test -d /var/lib/app || exit 1'] },
    { name: 'worker', image: 0, cmd: ['sh', '-c', 'while true; do sleep 60; done'], nets: ['back'], volume: 'data', dest: '/var/lib/app' },
    { name: 'cache', image: 2, nets: ['back'], health: ['CMD', 'redis-cli', 'ping'] },
    { name: 'db', image: 3, cmd: ['sh', '-c', 'while true; do sleep 3600; done'], nets: ['back'], volume: 'db', dest: '/var/lib/db', health: ['CMD-SHELL', 'test -d /var/lib/db'], limits: true },
  ];
  const template = s.p.composeLabels;
  const version = template['com.docker.compose.version'] ?? '2.26.1';
  let i = 0;
  for (let p = 0; i < n; p++) {
    const project = `${ADJECTIVES[(s.cfg.index + p) % ADJECTIVES.length]}-shop-${p}`;
    const dir = `/srv/${project}`;
    const projectLabels = { 'com.docker.compose.project': project, 'com.docker.compose.version': version };
    for (const net of ['front', 'back']) s.networks.add(`${project}_${net}`, { ...projectLabels, 'com.docker.compose.network': net, ...(net === 'back' ? { 'com.example.net': 'internal' } : {}) });
    for (const vol of ['static', 'data', 'db']) {
      const name = `${project}_${vol}`;
      s.volumes.set(name, { name, created: isoTime(now - 86_400_000 * 21), labels: { ...projectLabels, 'com.docker.compose.volume': vol }, anonymous: false });
    }
    for (const svc of services) {
      if (i >= n) break;
      const image = s.images[svc.image] as Image;
      const createdMs = now - 86_400_000 * 20 + Math.floor(((i + r.float()) / Math.max(n, 1)) * 86_400_000 * 19);
      const labels: Record<string, string> = {};
      for (const k of Object.keys(template)) {
        labels[k] = template[k] ?? '';
        if (k === 'com.docker.compose.config-hash') labels[k] = r.hex(64);
        else if (k === 'com.docker.compose.image') labels[k] = image.id;
        else if (k === 'com.docker.compose.project') labels[k] = project;
        else if (k === 'com.docker.compose.project.config_files') labels[k] = `${dir}/compose.yaml`;
        else if (k === 'com.docker.compose.project.working_dir') labels[k] = dir;
        else if (k === 'com.docker.compose.service') labels[k] = svc.name;
        else if (k === 'com.example.tier') labels[k] = svc.nets.includes('front') ? 'frontend' : 'backend';
      }
      labels['com.example.app'] = svc.name;
      const hostConfig: JsonObject = { ...s.p.composeHostConfig, NetworkMode: `${project}_${svc.nets.at(-1)}`, RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 } };
      const mounts: Json[] = [];
      if (svc.volume) mounts.push({ Type: 'volume', Source: `${project}_${svc.volume}`, Target: svc.dest ?? '/data', VolumeOptions: {} });
      if (mounts.length) hostConfig.Mounts = mounts;
      if (svc.ports) {
        hostConfig.Binds = [`${dir}/conf:/etc/web:ro`];
        hostConfig.PortBindings = { '80/tcp': [{ HostIp: '', HostPort: String(8000 + p) }], '443/tcp': [{ HostIp: '', HostPort: '' }] };
      }
      if (svc.limits) Object.assign(hostConfig, { Memory: 268_435_456, NanoCpus: 500_000_000, MemorySwap: 536_870_912 });
      const user: JsonObject = {
        Cmd: svc.cmd ?? null,
        Labels: labels,
        Env: ['APP_ENV=production', `SERVICE=${svc.name}`, 'LOG_LEVEL=info'],
        AttachStdout: true,
        AttachStderr: true,
      };
      if (svc.ports) user.ExposedPorts = { '80/tcp': {}, '443/tcp': {} };
      if (svc.health) user.Healthcheck = { ...s.p.healthcheck, Test: svc.health };
      const name = `${project}-${svc.name}-1`;
      const c = s.newContainer(r.hex(64), name, createdMs, image, user, hostConfig, svc.nets.map((x) => `${project}_${x}`).reverse());
      for (const ep of c.endpoints) ep.aliases = [name, svc.name];
      if (svc.ports) c.mounts.push({ Type: 'bind', Source: `${dir}/conf`, Destination: '/etc/web', Mode: 'ro', RW: false, Propagation: 'rprivate' });
      if (svc.volume) c.mounts.push(volumeMount(`${project}_${svc.volume}`, svc.dest ?? '/data', 'z'));
      c.sizeRw = r.int(1 << 20);
      s.attachImageVolumes(c, image, createdMs);
      settle(s, c, i, r.float(), createdMs, now);
      i++;
    }
  }
}

/** The pre-populated mix: about 60% running (a few paused), 30% exited, the rest created. */
function settle(s: EngineState, c: Container, i: number, roll: number, createdMs: number, now: number): void {
  const r = s.rng;
  if (roll < 0.65) {
    c.startedMs = createdMs + 500 + r.int(2000);
    if (!s.networks.connect(c, false)) c.startedMs = 0;
    else {
      c.status = i % 17 === 16 ? 'paused' : 'running';
      c.pid = 1000 + r.int(60000);
    }
  } else if (roll < 0.95) {
    c.startedMs = createdMs + 500 + r.int(2000);
    c.finishedMs = c.startedMs + r.int(86_400_000);
    if (c.finishedMs > now) c.finishedMs = now - 1000;
    c.status = 'exited';
    c.exitCode = r.pick([0, 0, 0, 1, 137, 143, 2]);
  }
}
