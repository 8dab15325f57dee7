/**
 * docker compose v2 (2.26, the CLI plugin) and compose v1 (1.29, Debian's docker-compose) through the
 * manager over a mixed cluster: node-1 runs dockerd 20.10 (API 1.41), node-2 dockerd 26 refusing
 * clients below API 1.44 (as Docker Engine 29). The project has three services (a published port,
 * depends_on a healthcheck, a named volume, the default network and a user network, constraints and
 * affinities); it is pinned to node-2 by constraint labels on its networks (a project's networks are
 * local to one engine and its containers follow them) and constraints in the services, so the new
 * engine serves everything while the cluster advertises API 1.41.
 *
 *   TESTBED_ID=1 npm run build && TESTBED_ID=1 node_modules/.bin/bun test --timeout 300000 test/integration/compose.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { dockerCli, privateDockerConfig, run, testbedDown, testbedUp, type CliResult, type TestbedHost } from '../helpers/testbed';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let work = '';
let hosts: TestbedHost[] = [];
const PORT = 18000 + Math.floor(Math.random() * 1000);

function composeFile(pin: string): string {
  return `
services:
  db:
    image: busybox
    command: ["sh", "-c", "echo ok > /www/x; exec httpd -f -p 8080 -h /www"]
    volumes: ["data:/www"]
    networks: [default, back]
    environment:
      - "constraint:node==${pin}"
    healthcheck:
      test: ["CMD", "wget", "-q", "-O-", "http://127.0.0.1:8080/x"]
      interval: 1s
      timeout: 2s
      retries: 20
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: ["data:/www"]
    ports: ["${PORT}:8080"]
    depends_on:
      db:
        condition: service_healthy
    environment:
      - "affinity:com.docker.compose.service==db"
  worker:
    image: busybox
    command: ["sh", "-c", "while true; do echo tick-$$HOSTNAME; sleep 1; done"]
    networks: [back]
    labels:
      com.docker.swarm.constraints: '["node==${pin}"]'
volumes:
  data: {}
networks:
  default:
    labels:
      com.docker.swarm.constraints: '["node==${pin}"]'
  back:
    labels:
      com.docker.swarm.constraints: '["node==${pin}"]'
`;
}

type Compose = (args: string[], timeoutS?: number) => Promise<CliResult>;

const composeV2 =
  (project: string, dir: string): Compose =>
  (args, timeoutS = 120) =>
    run(['docker', '-H', host, 'compose', '-p', project, '--project-directory', dir, '-f', join(dir, 'compose.yaml'), ...args], {
      timeoutMs: timeoutS * 1000,
      env: { DOCKER_CONFIG: privateDockerConfig() },
    });

const composeV1 =
  (project: string, dir: string): Compose =>
  (args, timeoutS = 120) =>
    run(['docker-compose', '-H', host, '-p', project, '--project-directory', dir, '-f', join(dir, 'compose.yaml'), ...args], {
      timeoutMs: timeoutS * 1000,
      env: { DOCKER_CONFIG: join(work, '.docker-v1'), COMPOSE_INTERACTIVE_NO_CLI: '1' },
    });

async function ok(p: Promise<CliResult>, what: string): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const docker = (args: string[], timeoutS = 60) => dockerCli(host, args, { timeoutMs: timeoutS * 1000, dockerConfig: true });

/** What a project left on one engine, asked of the engine directly. */
async function leftovers(h: TestbedHost, project: string): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const out: string[] = [];
  for (const args of [
    ['ps', '-aq', '--filter', label],
    ['network', 'ls', '-q', '--filter', label],
    ['volume', 'ls', '-q', '--filter', label],
  ]) {
    const r = await dockerCli(h.addr, args, { dockerConfig: true, timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} on ${h.name}: ${r.stderr}`);
    out.push(...r.stdout.split('\n').filter(Boolean).map((l) => `${h.name} ${args[0]} ${l}`));
  }
  return out;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-compose-it-'));
  hosts = await testbedUp(2, { storage: ['overlay2', 'overlay2'], engines: { 1: '20.10', 2: '26' }, minApi: { 2: '1.44' } });
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start(['manage', '-H', host, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitFor('2 healthy nodes', async () => ((await docker(['info'], 20)).stdout.match(/Status: Healthy/g)?.length === 2 ? true : undefined), 60_000, 300);
}, 400_000);

afterAll(async () => {
  await manager?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-compose-it.log'), manager.log());
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

for (const [flavour, make] of [
  ['compose v2', composeV2],
  ['compose v1', composeV1],
] as const) {
  describe(`${flavour}: a three-service project on a mixed cluster`, () => {
    const project = `p${flavour.endsWith('2') ? 'two' : 'one'}${Date.now().toString(36)}`;
    let compose: Compose;
    let pin = '';

    beforeAll(() => {
      const dir = join(work, project);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      pin = hosts[1]!.name;
      writeFileSync(join(dir, 'compose.yaml'), composeFile(pin));
      compose = make(project, dir);
    });

    test('up -d starts every service on the pinned node, after db is healthy', async () => {
      await ok(compose(['up', '-d'], 180), 'compose up -d');
      const ids = (await ok(compose(['ps', '-q']), 'compose ps -q')).split('\n').filter(Boolean);
      expect(ids).toHaveLength(3);
      for (const id of ids) {
        expect((await ok(docker(['inspect', '-f', '{{.Node.Name}} {{.State.Status}}', id]), 'inspect')).trim()).toBe(`${pin} running`);
      }
      const db = (await ok(docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=db']), 'ps db')).trim();
      expect((await ok(docker(['inspect', '-f', '{{.State.Health.Status}}', db]), 'inspect db')).trim()).toBe('healthy');
    });

    test('ps shows the services; the published port answers on the node', async () => {
      const ps = await ok(compose(['ps']), 'compose ps');
      for (const s of ['db', 'web', 'worker']) expect(ps).toContain(s);
      const ip = hosts[1]!.ip;
      const body = await waitFor(`http://${ip}:${PORT}/x`, async () => {
        const r = await fetch(`http://${ip}:${PORT}/x`).catch(() => undefined);
        return r?.ok ? r.text() : undefined;
      }, 20_000, 300);
      expect(body.trim()).toBe('ok');
    });

    test('logs and logs -f stream the worker', async () => {
      expect(await ok(compose(['logs', 'worker']), 'compose logs')).toContain('tick-');
      const follow = await compose(['logs', '-f', '--tail', '1', 'worker'], 5);
      expect(follow.timedOut).toBe(true); // still following when killed
      expect(follow.stdout.match(/tick-/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
    });

    test('exec reaches db by its service name over the project network', async () => {
      expect((await ok(compose(['exec', '-T', 'web', 'wget', '-q', '-O-', 'http://db:8080/x']), 'compose exec')).trim()).toBe('ok');
    });

    test('up --scale worker=2 adds a second worker next to the first', async () => {
      await ok(compose(['up', '-d', '--scale', 'worker=2'], 180), 'compose up --scale');
      const workers = (await ok(docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'label=com.docker.compose.service=worker']), 'ps workers')).split('\n').filter(Boolean);
      expect(workers).toHaveLength(2);
      for (const id of workers) expect((await ok(docker(['inspect', '-f', '{{.Node.Name}}', id]), 'inspect')).trim()).toBe(pin);
    });

    test('restart and stop', async () => {
      await ok(compose(['restart'], 120), 'compose restart');
      expect((await ok(compose(['ps', '-q']), 'ps')).split('\n').filter(Boolean)).toHaveLength(4);
      await ok(compose(['stop'], 120), 'compose stop');
      const running = (await ok(docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`]), 'ps')).split('\n').filter(Boolean);
      expect(running).toHaveLength(0);
    });

    test('down -v leaves no container, network or volume on any engine', async () => {
      await ok(compose(['down', '-v'], 120), 'compose down -v');
      const left = (await Promise.all(hosts.map((h) => leftovers(h, project)))).flat();
      expect(left).toEqual([]);
    });
  });
}
