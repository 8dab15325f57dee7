/**
 * Captures what a real dockerd answers for a small compose project (labels, a bind mount and named
 * volumes, two networks, a healthcheck, published ports, a restart policy, limits) and for plain
 * containers in every state, and writes it as the simulator's templates:
 * bench/payloads/dockerd-<major.minor>.json. Run against a test bed engine (root, the docker CLI
 * with the compose plugin of $TODAY_DOCKER_DIR/cli-plugins):
 *
 *   TESTBED_ID=4 scripts/testbed.sh up 2 --engine 2:26
 *   node_modules/.bin/bun bench/payloads/capture.ts tcp://10.99.4.11:2375 tcp://10.99.4.12:2375
 *
 * Every container, network and volume it makes is removed at the end. The engine's data root is
 * written as /var/lib/docker and the project directory as /srv/shop, so the sizes are those of a
 * default install.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const OUT = resolve(import.meta.dir);
const TODAY_DOCKER_DIR = process.env.TODAY_DOCKER_DIR ?? '/opt/swarm-test/docker-26';

const COMPOSE = `name: shop
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo ok > /srv/index.html && exec httpd -f -p 8080 -h /srv"]
    labels:
      com.example.team: storefront
      com.example.tier: frontend
    environment:
      APP_ENV: production
      API_URL: http://api:9000
      LOG_LEVEL: info
    ports: ["8080:8080", "8443"]
    volumes:
      - static:/srv
      - ./conf:/etc/web:ro
    networks: [front, back]
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://localhost:8080/"]
      interval: 2s
      timeout: 5s
      retries: 3
      start_period: 10s
    restart: unless-stopped
    deploy:
      resources:
        limits: { memory: 256m, cpus: "0.5" }
  api:
    image: busybox:latest
    command: ["sh", "-c", "while true; do sleep 3600; done"]
    labels:
      com.example.team: storefront
      com.example.tier: backend
    environment:
      APP_ENV: production
      DB_HOST: db
    volumes:
      - data:/var/lib/app
    networks: [front, back]
    healthcheck:
      test: ["CMD-SHELL", "test -d /var/lib/app || exit 1"]
      interval: 2s
      timeout: 5s
      retries: 3
    restart: unless-stopped
volumes:
  static: {}
  data:
    labels:
      com.example.backup: daily
networks:
  front: {}
  back:
    labels:
      com.example.net: internal
`;

type Json = unknown;

function run(cmd: string[], env: Record<string, string>, cwd?: string, okCodes: number[] = [0]): string {
  const r = Bun.spawnSync(cmd, { env: { ...process.env, ...env }, cwd, stdout: 'pipe', stderr: 'pipe' });
  if (!okCodes.includes(r.exitCode)) throw new Error(`${cmd.join(' ')}: exit ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

async function get(base: string, path: string): Promise<Json> {
  const r = await fetch(`${base}${path}`);
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return r.json();
}

/** The data root and project directory of the test bed, as on a default install. */
function normalise(text: string, dataRoot: string, projectDir: string): string {
  return text.split(dataRoot).join('/var/lib/docker').split(projectDir).join('/srv/shop');
}

async function capture(host: string, dockerConfig: string): Promise<void> {
  const base = host.replace(/^tcp:/, 'http:');
  const env = { DOCKER_HOST: host, DOCKER_CONFIG: dockerConfig, DOCKER_CLI_HINTS: 'false' };
  const docker = (...args: string[]) => run(['docker', ...args], env).trim();
  const version = (await get(base, '/version')) as { Version: string; ApiVersion: string; MinAPIVersion: string };
  const info = (await get(base, '/info')) as { DockerRootDir: string };
  const dir = mkdtempSync(join(tmpdir(), 'swarm-payloads-'));
  mkdirSync(join(dir, 'conf'));
  writeFileSync(join(dir, 'compose.yaml'), COMPOSE);
  const compose = (...args: string[]) => run(['docker', 'compose', ...args], env, dir);
  try {
    compose('up', '-d', '--wait');
    // Healthy containers carry the last five probes in State.Health.Log, as in a long-running one.
    await Bun.sleep(11_000);
    docker('create', '--name', 'plain-created', '-l', 'com.example.role=batch', 'busybox', 'sleep', '100');
    run(['docker', 'run', '--name', 'plain-exited', 'busybox', 'sh', '-c', 'exit 3'], env, undefined, [3]);
    docker('run', '-d', '--name', 'plain-running', '-p', '80', '-e', 'MODE=worker', 'busybox', 'sleep', '1000');
    docker('run', '-d', '--name', 'plain-paused', 'busybox', 'sleep', '1000');
    docker('pause', 'plain-paused');
    const list = (await get(base, '/containers/json?all=1')) as { Id: string; Names: string[]; State: string }[];
    const containers = [];
    for (const summary of list) {
      const inspect = await get(base, `/containers/${summary.Id}/json`);
      containers.push({ name: summary.Names[0]?.slice(1), state: summary.State, summary, inspect });
    }
    const images = (await get(base, '/images/json')) as { Id: string }[];
    const imageInspect = await get(base, `/images/${images[0]?.Id}/json`);
    const networks = await get(base, '/networks');
    const networkInspect = await get(base, '/networks/shop_back');
    const volumes = await get(base, '/volumes');
    const bytes = (v: Json) => Buffer.byteLength(JSON.stringify(v));
    const sizes = {
      containerSummary: Object.fromEntries(containers.map((c) => [c.name, bytes(c.summary)])),
      containerInspect: Object.fromEntries(containers.map((c) => [c.name, bytes(c.inspect)])),
      imageSummary: bytes(images[0]),
      imageInspect: bytes(imageInspect),
      network: bytes(networkInspect),
      volumes: bytes(volumes),
    };
    const doc = {
      engine: { Version: version.Version, ApiVersion: version.ApiVersion, MinAPIVersion: version.MinAPIVersion },
      captured: new Date().toISOString().slice(0, 10),
      sizes,
      containers,
      images,
      imageInspect,
      networks,
      networkInspect,
      volumes,
    };
    const kind = version.Version.split('.').slice(0, version.Version.startsWith('20.') ? 2 : 1).join('.');
    const file = join(OUT, `dockerd-${kind}.json`);
    writeFileSync(file, normalise(JSON.stringify(doc, null, 1), info.DockerRootDir, dir) + '\n');
    console.log(`${host}: dockerd ${version.Version} → ${file}`);
  } finally {
    for (const n of ['plain-created', 'plain-exited', 'plain-running', 'plain-paused']) run(['docker', 'rm', '-f', n], env);
    compose('down', '-v');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const hosts = process.argv.slice(2);
  if (!hosts.length) throw new Error('usage: bun bench/payloads/capture.ts tcp://host:port ...');
  const cfg = mkdtempSync(join(tmpdir(), 'swarm-payloads-config-'));
  mkdirSync(join(cfg, 'cli-plugins'));
  symlinkSync(join(TODAY_DOCKER_DIR, 'cli-plugins', 'docker-compose'), join(cfg, 'cli-plugins', 'docker-compose'));
  writeFileSync(join(cfg, 'config.json'), '{"auths": {}}\n');
  try {
    for (const h of hosts) await capture(h, cfg);
  } finally {
    rmSync(cfg, { recursive: true, force: true });
  }
}

await main();
