/**
 * The engine simulator (bench/engine-sim.ts), run in-process with 3 engines x 5 containers, driven
 * with the real docker CLI (`docker -H tcp://127.0.0.1:<port>`) and with plain fetch for the
 * status codes and error bodies a cluster manager depends on.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator } from '../../bench/engine-sim';

const hasDocker = Bun.which('docker') !== null && Bun.which('timeout') !== null;
const dockerConfig = mkdtempSync(join(tmpdir(), 'engine-sim-docker-'));
let sim: Simulator;
let host = '';
let base = '';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function dockerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('DOCKER_')) env[k] = v;
  env.DOCKER_CONFIG = dockerConfig; // no contexts, credential helpers or CLI plugins from the user
  env.DOCKER_CLI_HINTS = 'false';
  return env;
}

async function docker(...args: string[]): Promise<Run> {
  const proc = Bun.spawn(['timeout', '-s', 'KILL', '20', 'docker', '-H', host, ...args], {
    env: dockerEnv(),
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

async function ok(...args: string[]): Promise<string> {
  const r = await docker(...args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string; headers: Headers }> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: r.status, json, text, headers: r.headers };
}

beforeAll(async () => {
  sim = await startSimulator({ nodes: 3, containers: 5, basePort: 0, seed: 42, labels: ['test=engine-sim'] });
  const e = sim.engines[0];
  if (!e) throw new Error('no engine');
  host = `tcp://${e.addr}`;
  base = `http://${e.addr}`;
});

afterAll(async () => {
  await sim?.close();
  rmSync(dockerConfig, { recursive: true, force: true });
});

describe('simulator', () => {
  test('starts distinct engines on distinct ports', () => {
    expect(sim.engines).toHaveLength(3);
    const ports = new Set(sim.engines.map((e) => e.port));
    const ids = new Set(sim.engines.map((e) => e.id));
    expect(ports.size).toBe(3);
    expect(ids.size).toBe(3);
    for (const [i, e] of sim.engines.entries()) {
      expect(e.name).toBe(`sim-${i}`);
      expect(e.id).toMatch(/^[A-Z2-7]{4}(:[A-Z2-7]{4}){11}$/);
      expect(e.addr).toBe(`127.0.0.1:${e.port}`);
    }
  });
});

describe.skipIf(!hasDocker)('real docker CLI against one simulated engine', () => {
  test('docker version', async () => {
    const out = await ok('version');
    expect(out).toContain('20.10.24-sim');
    expect(out).toMatch(/API version:\s+1\.41 \(minimum version 1\.12\)/);
  });

  test('docker info shows ID, Name, NCPU and labels', async () => {
    const e = sim.engines[0];
    const out = await ok('info');
    expect(out).toContain(`ID: ${e?.id}`);
    expect(out).toContain('Name: sim-0');
    expect(out).toContain('CPUs: 4');
    expect(out).toContain('Containers: 5');
    expect(out).toContain('test=engine-sim');
    expect((await ok('info', '--format', '{{.ID}} {{.Name}} {{.NCPU}}')).trim()).toBe(`${e?.id} sim-0 4`);
  });

  test('docker ps -a lists the pre-populated containers', async () => {
    const ids = lines(await ok('ps', '-a', '-q', '--no-trunc'));
    expect(ids).toHaveLength(5);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{64}$/);
    const table = await ok('ps', '-a');
    expect(lines(table)).toHaveLength(6);
    expect(table).toContain('CONTAINER ID');
  });

  test('run -d, ps, inspect, stop, rm', async () => {
    const id = (await ok('run', '-d', '--name', 'sleeper', '-l', 'role=test', 'busybox', 'sleep', '1000')).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const running = await ok('ps', '--no-trunc', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.State}}');
    expect(running).toContain(`${id} sleeper busybox "sleep 1000" running`);

    const inspected = JSON.parse(await ok('inspect', id.slice(0, 10))) as Array<Record<string, unknown>>;
    expect(inspected).toHaveLength(1);
    const c = inspected[0] as {
      Id: string;
      Name: string;
      Path: string;
      Args: string[];
      State: { Status: string; Running: boolean; Pid: number };
      Config: { Image: string; Cmd: string[]; Labels: Record<string, string> };
      NetworkSettings: { IPAddress: string; Networks: Record<string, { IPAddress: string }> };
    };
    expect(c.Id).toBe(id);
    expect(c.Name).toBe('/sleeper');
    expect(c.Path).toBe('sleep');
    expect(c.Args).toEqual(['1000']);
    expect(c.State.Status).toBe('running');
    expect(c.State.Running).toBe(true);
    expect(c.State.Pid).toBeGreaterThan(0);
    expect(c.Config.Image).toBe('busybox');
    expect(c.Config.Cmd).toEqual(['sleep', '1000']);
    expect(c.Config.Labels.role).toBe('test');
    expect(c.NetworkSettings.IPAddress).toMatch(/^172\.17\.\d+\.\d+$/);
    expect(c.NetworkSettings.Networks.bridge?.IPAddress).toBe(c.NetworkSettings.IPAddress);

    expect((await ok('stop', 'sleeper')).trim()).toBe('sleeper');
    expect((await ok('inspect', '-f', '{{.State.Status}} {{.State.Running}}', id)).trim()).toBe('exited false');
    expect(await ok('ps', '-a', '--filter', 'status=exited', '-q', '--no-trunc')).toContain(id);
    expect(await ok('ps', '-q', '--no-trunc')).not.toContain(id);

    expect((await ok('rm', 'sleeper')).trim()).toBe('sleeper');
    expect(lines(await ok('ps', '-a', '-q'))).toHaveLength(5);
    const gone = await docker('inspect', id);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain(`No such object: ${id}`);
  });

  test('create + start, kill, rm -f, and the errors docker prints', async () => {
    const id = (await ok('create', '--name', 'twice', 'busybox', 'sleep', '1000')).trim();
    expect((await ok('inspect', '-f', '{{.State.Status}}', id)).trim()).toBe('created');
    const dup = await docker('create', '--name', 'twice', 'busybox');
    expect(dup.code).not.toBe(0);
    expect(dup.stderr).toContain('Conflict. The container name "/twice" is already in use by container');
    await ok('start', 'twice');
    const rmRunning = await docker('rm', 'twice');
    expect(rmRunning.code).not.toBe(0);
    expect(rmRunning.stderr).toContain('You cannot remove a running container');
    await ok('kill', 'twice');
    expect((await ok('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', id)).trim()).toBe('exited 137');
    await ok('start', 'twice');
    await ok('rm', '-f', 'twice');
    const missing = await docker('stop', 'twice');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such container: twice');
  });

  test('docker wait returns the exit code when the container stops', async () => {
    const id = (await ok('run', '-d', 'busybox', 'sleep', '1')).trim();
    const t0 = Date.now();
    expect((await ok('wait', id)).trim()).toBe('0');
    expect(Date.now() - t0).toBeGreaterThan(500);
    await ok('rm', id);
  });

  test('attached docker run prints what echo prints and exits with the container', async () => {
    const r = await docker('run', '--rm', 'busybox', 'echo', 'hello', 'sim');
    expect(r.stdout).toBe('hello sim\n');
    expect(r.code).toBe(0);
    expect((await docker('run', '--rm', 'busybox', 'sh', '-c', 'exit 3')).code).toBe(3);
    const id = (await ok('run', '-d', 'busybox', 'echo', 'to the log')).trim();
    expect((await ok('wait', id)).trim()).toBe('0');
    expect(await ok('logs', id)).toBe('to the log\n');
    await ok('rm', id);
    expect(lines(await ok('ps', '-a', '-q'))).toHaveLength(5);
  });

  test('docker images, network ls, volume ls', async () => {
    const images = await ok('images');
    expect(images).toMatch(/busybox\s+latest\s+[0-9a-f]{12}/);
    expect(images).toMatch(/nginx\s+latest/);
    const nets = await ok('network', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Scope}}');
    expect(lines(nets).sort()).toEqual(['bridge bridge local', 'host host local', 'none null local']);
    const vols = await ok('volume', 'ls', '--format', '{{.Driver}} {{.Name}}');
    expect(vols).toContain('local data-0');
    expect(await ok('network', 'inspect', '-f', '{{.Driver}}', 'bridge')).toContain('bridge');
  });

  test('docker events streams a start event while another command runs', async () => {
    const proc = Bun.spawn(['timeout', '-s', 'KILL', '20', 'docker', '-H', host, 'events', '--filter', 'type=container'], {
      env: dockerEnv(),
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    try {
      await Bun.sleep(500); // let the CLI subscribe
      const id = (await ok('run', '-d', 'busybox', 'sleep', '1000')).trim();
      const reader = proc.stdout.getReader();
      const decoder = new TextDecoder();
      let seen = '';
      const deadline = Date.now() + 10_000;
      while (!seen.includes(`container start ${id}`) && Date.now() < deadline) {
        const chunk = await Promise.race([reader.read(), Bun.sleep(deadline - Date.now()).then(() => undefined)]);
        if (!chunk || chunk.done) break;
        seen += decoder.decode(chunk.value);
      }
      expect(seen).toContain(`container create ${id}`);
      expect(seen).toContain(`container start ${id}`);
      expect(seen).toMatch(new RegExp(`container start ${id} \\(.*image=busybox.*\\)`));
      reader.releaseLock();
      await ok('rm', '-f', id);
    } finally {
      proc.kill('SIGKILL');
      await proc.exited;
    }
  });

  test('network create / volume create, a container on both, top, rm in order', async () => {
    const netId = (await ok('network', 'create', 'appnet')).trim();
    expect(netId).toMatch(/^[0-9a-f]{64}$/);
    expect((await ok('volume', 'create', 'appvol')).trim()).toBe('appvol');
    const id = (await ok('run', '-d', '--network', 'appnet', '-v', 'appvol:/data', '-p', '18080:80', 'nginx')).trim();
    const net = (await ok('inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{end}}', id)).trim();
    expect(net).toMatch(/^appnet 172\.\d+\.\d+\.\d+$/);
    expect(await ok('ps', '--filter', `id=${id}`, '--format', '{{.Ports}}')).toContain('0.0.0.0:18080->80/tcp');
    expect(await ok('top', id)).toContain('/docker-entrypoint.sh nginx -g daemon off;');
    const busy = await docker('run', '-d', '-p', '18080:80', 'nginx');
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toContain('port is already allocated');
    expect((await docker('network', 'rm', 'appnet')).stderr).toContain('has active endpoints');
    expect((await docker('volume', 'rm', 'appvol')).stderr).toContain('volume is in use');
    const leftover = lines(await ok('ps', '-a', '-q', '--no-trunc', '--filter', `since=${id}`));
    expect(leftover).toHaveLength(1); // created, its start failed on the port
    for (const c of leftover) await ok('rm', c);
    await ok('rm', '-f', id);
    await ok('network', 'rm', 'appnet');
    await ok('volume', 'rm', 'appvol');
    expect(await ok('network', 'ls')).not.toContain('appnet');
  });

  test('docker run pulls an image the engine does not have', async () => {
    const r = await docker('run', '-d', 'alpine:3.20', 'sleep', '100');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("Unable to find image 'alpine:3.20' locally");
    expect(r.stderr).toContain('Downloaded newer image for alpine:3.20');
    await ok('rm', '-f', r.stdout.trim());
  });
});

describe('Engine API over fetch', () => {
  test('_ping answers GET and HEAD with the version headers', async () => {
    const g = await api('GET', '/_ping');
    expect(g.status).toBe(200);
    expect(g.text).toBe('OK');
    expect(g.headers.get('api-version')).toBe('1.41');
    expect(g.headers.get('docker-experimental')).toBe('false');
    expect(g.headers.get('ostype')).toBe('linux');
    const h = await fetch(`${base}/v1.24/_ping`, { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(h.headers.get('api-version')).toBe('1.41');
  });

  test('version and API version bounds', async () => {
    const v = (await api('GET', '/v1.41/version')).json as Record<string, unknown>;
    expect(v.ApiVersion).toBe('1.41');
    expect(v.MinAPIVersion).toBe('1.12');
    expect(v.Version).toBe('20.10.24-sim');
    const tooNew = await api('GET', '/v1.99/version');
    expect(tooNew.status).toBe(400);
    expect(tooNew.json).toEqual({ message: 'client version 1.99 is too new. Maximum supported API version is 1.41' });
    const tooOld = await api('GET', '/v1.11/info');
    expect(tooOld.status).toBe(400);
  });

  test('create with a taken name is 409 with Docker\'s message', async () => {
    const list = (await api('GET', '/containers/json?all=1')).json as Array<{ Id: string; Names: string[] }>;
    const first = list[0];
    if (!first) throw new Error('empty list');
    const name = (first.Names[0] ?? '').slice(1);
    const r = await api('POST', `/v1.41/containers/create?name=${name}`, { Image: 'busybox', Cmd: ['true'] });
    expect(r.status).toBe(409);
    expect(r.json).toEqual({
      message: `Conflict. The container name "/${name}" is already in use by container "${first.Id}". You have to remove (or rename) that container to be able to reuse that name.`,
    });
  });

  test('unknown container is 404, unknown image is 404, unknown route is 404', async () => {
    const c = await api('GET', '/v1.41/containers/nosuchthing/json');
    expect(c.status).toBe(404);
    expect(c.json).toEqual({ message: 'No such container: nosuchthing' });
    expect((await api('POST', '/containers/nosuchthing/start')).status).toBe(404);
    expect((await api('DELETE', '/containers/nosuchthing')).status).toBe(404);
    const img = await api('POST', '/containers/create', { Image: 'nosuchimage' });
    expect(img.status).toBe(404);
    expect(img.json).toEqual({ message: 'No such image: nosuchimage:latest' });
    const imgInspect = await api('GET', '/images/nosuchimage/json');
    expect(imgInspect.status).toBe(404);
    const route = await api('GET', '/v1.41/swarm');
    expect(route.status).toBe(404);
    expect(route.json).toEqual({ message: 'page not found' });
    expect((await api('GET', '/networks/nope')).json).toEqual({ message: 'network nope not found' });
    expect((await api('GET', '/volumes/nope')).json).toEqual({ message: 'get nope: no such volume' });
  });

  test('lifecycle status codes: start 204/304, stop 304, pause/unpause, delete 409 then force', async () => {
    const created = await api('POST', '/containers/create?name=lifecycle', { Image: 'busybox', Cmd: ['sleep', '1000'], Labels: { k: 'v' } });
    expect(created.status).toBe(201);
    const id = (created.json as { Id: string }).Id;
    expect((await api('POST', `/containers/${id}/start`)).status).toBe(204);
    expect((await api('POST', `/containers/${id}/start`)).status).toBe(304);
    expect((await api('POST', `/containers/${id.slice(0, 12)}/pause`)).status).toBe(204);
    const paused = (await api('GET', '/containers/lifecycle/json')).json as { State: { Status: string; Paused: boolean; Running: boolean } };
    expect(paused.State).toMatchObject({ Status: 'paused', Paused: true, Running: true });
    expect((await api('POST', `/containers/${id}/pause`)).status).toBe(409);
    expect((await api('POST', `/containers/${id}/unpause`)).status).toBe(204);
    const del = await api('DELETE', `/containers/${id}`);
    expect(del.status).toBe(409);
    expect((await api('POST', `/containers/${id}/stop`)).status).toBe(204);
    expect((await api('POST', `/containers/${id}/stop`)).status).toBe(304);
    expect((await api('POST', `/containers/${id}/kill`)).status).toBe(409);
    expect((await api('POST', `/containers/${id}/restart`)).status).toBe(204);
    expect((await api('DELETE', `/containers/${id}?force=1`)).status).toBe(204);
    expect((await api('GET', `/containers/${id}/json`)).status).toBe(404);
  });

  test('list filters: status, label, name, id; size', async () => {
    const all = (await api('GET', '/containers/json?all=1')).json as Array<{ Id: string; Names: string[]; State: string; Labels: Record<string, string> }>;
    const runningOnly = (await api('GET', '/containers/json')).json as Array<{ State: string }>;
    expect(runningOnly.every((c) => c.State === 'running' || c.State === 'paused')).toBe(true);
    const exited = (await api('GET', `/containers/json?filters=${encodeURIComponent('{"status":["exited"]}')}`)).json as Array<{ State: string }>;
    expect(exited.length).toBe(all.filter((c) => c.State === 'exited').length);
    const legacy = (await api('GET', `/containers/json?filters=${encodeURIComponent('{"status":{"exited":true}}')}`)).json as unknown[];
    expect(legacy.length).toBe(exited.length);
    const app = all[0]?.Labels['com.example.app'] ?? '';
    const byLabel = (await api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`com.example.app=${app}`] }))}`)).json as unknown[];
    expect(byLabel.length).toBe(all.filter((c) => c.Labels['com.example.app'] === app).length);
    const target = all[1];
    if (!target) throw new Error('need two containers');
    const byName = (await api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [(target.Names[0] ?? '').slice(1)] }))}`)).json as Array<{ Id: string }>;
    expect(byName.map((c) => c.Id)).toContain(target.Id);
    const byId = (await api('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ id: [target.Id.slice(0, 12)] }))}`)).json as Array<{ Id: string }>;
    expect(byId.map((c) => c.Id)).toEqual([target.Id]);
    const sized = (await api('GET', '/containers/json?all=1&size=1')).json as Array<{ SizeRw?: number; SizeRootFs?: number }>;
    expect(typeof sized[0]?.SizeRw).toBe('number');
    expect(typeof sized[0]?.SizeRootFs).toBe('number');
    const bad = await api('GET', `/containers/json?filters=${encodeURIComponent('{"status":["sleeping"]}')}`);
    expect(bad.status).toBe(400);
  });

  test('wait blocks until the container stops; condition=removed until it is removed', async () => {
    const id = ((await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] })).json as { Id: string }).Id;
    await api('POST', `/containers/${id}/start`);
    let settled = false;
    const waiting = api('POST', `/v1.41/containers/${id}/wait?condition=not-running`).then((r) => {
      settled = true;
      return r;
    });
    const removed = api('POST', `/v1.41/containers/${id}/wait?condition=removed`);
    await Bun.sleep(200);
    expect(settled).toBe(false);
    await api('POST', `/containers/${id}/kill?signal=SIGTERM`);
    const w = await waiting;
    expect(w.status).toBe(200);
    expect(w.json).toEqual({ Error: null, StatusCode: 143 });
    await api('DELETE', `/containers/${id}`);
    expect((await removed).json).toEqual({ Error: null, StatusCode: 143 });
  });

  test('events: since replays, until ends the stream, filters apply', async () => {
    const since = (Date.now() / 1000 - 1).toFixed(3);
    const id = ((await api('POST', '/containers/create?name=evt', { Image: 'busybox', Cmd: ['sleep', '1000'], Labels: { tier: 'x' } })).json as { Id: string }).Id;
    await api('POST', `/containers/${id}/start`);
    await api('DELETE', `/containers/${id}?force=true`);
    const until = (Date.now() / 1000 + 0.2).toFixed(3);
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], container: ['evt'] }));
    const r = await fetch(`${base}/v1.41/events?since=${since}&until=${until}&filters=${filters}`);
    const events = lines(await r.text()).map((l) => JSON.parse(l) as { Type: string; Action: string; status: string; id: string; from: string; Actor: { ID: string; Attributes: Record<string, string> }; time: number; timeNano: number; scope: string });
    expect(events.map((e) => e.Action)).toEqual(['create', 'start', 'kill', 'die', 'destroy']);
    for (const e of events) {
      expect(e).toMatchObject({ Type: 'container', status: e.Action, id, from: 'busybox', scope: 'local' });
      expect(e.Actor.ID).toBe(id);
      expect(e.Actor.Attributes).toMatchObject({ name: 'evt', image: 'busybox', tier: 'x' });
      expect(e.time).toBeGreaterThan(1_600_000_000);
    }
    expect(events[2]?.Actor.Attributes.signal).toBe('9');
    expect(events[3]?.Actor.Attributes.exitCode).toBe('137');
  });

  test('info counts follow state changes', async () => {
    const before = (await api('GET', '/info')).json as { Containers: number; ContainersRunning: number; ContainersStopped: number; ContainersPaused: number; SystemTime: string };
    expect(before.ContainersRunning + before.ContainersStopped + before.ContainersPaused).toBe(before.Containers);
    expect(Date.parse(before.SystemTime)).toBeGreaterThan(0);
    const id = ((await api('POST', '/containers/create', { Image: 'busybox', Cmd: ['sleep', '1000'] })).json as { Id: string }).Id;
    await api('POST', `/containers/${id}/start`);
    const after = (await api('GET', '/info')).json as { Containers: number; ContainersRunning: number };
    expect(after.Containers).toBe(before.Containers + 1);
    expect(after.ContainersRunning).toBe(before.ContainersRunning + 1);
    await api('DELETE', `/containers/${id}?force=1`);
  });

  test('an engine can be taken down and brought back', async () => {
    const e = sim.engines[2];
    if (!e) throw new Error('no engine 2');
    const url = `http://${e.addr}/_ping`;
    expect((await fetch(url)).status).toBe(200);
    await sim.stopEngine(2);
    expect(await fetch(url).then(() => 'up', () => 'down')).toBe('down');
    await sim.startEngine(2);
    const info = (await (await fetch(`http://${e.addr}/info`)).json()) as { ID: string; Containers: number };
    expect(info.ID).toBe(e.id);
    expect(info.Containers).toBe(5);
  });
});

describe('dockerd 26 payloads of compose projects (--engine 26 --workload compose)', () => {
  let sim26: Simulator;
  let at = '';
  const captured = JSON.parse(readFileSync(join(import.meta.dir, '../../bench/payloads/dockerd-26.json'), 'utf8')) as {
    containers: { name: string; summary: Record<string, unknown>; inspect: Record<string, unknown> }[];
  };
  const real = captured.containers.find((c) => c.name === 'shop-web-1')!;
  /** Key paths of an object (maps whose keys are data, such as Labels or Networks, as one key). */
  const keys = (o: unknown, p = ''): string[] =>
    o && typeof o === 'object' && !Array.isArray(o)
      ? Object.entries(o).flatMap(([k, v]) => [p + k, ...(['Labels', 'Networks', 'Ports', 'Data', 'ExposedPorts', 'PortBindings', 'Options'].includes(k) ? [] : keys(v, `${p}${k}.`))])
      : [];

  beforeAll(async () => {
    sim26 = await startSimulator({ nodes: 2, containers: 30, basePort: 0, seed: 7, engine: '26', workload: 'compose', autoExit: false });
    at = `http://${sim26.engines[0]!.addr}`;
  });
  afterAll(async () => {
    await sim26?.close();
  });

  test('version and API of dockerd 26', async () => {
    const v = (await (await fetch(`${at}/version`)).json()) as Record<string, unknown>;
    expect(v).toMatchObject({ Version: '26.1.5-sim', ApiVersion: '1.45', MinAPIVersion: '1.24' });
    expect((await fetch(`${at}/_ping`)).headers.get('api-version')).toBe('1.45');
  });

  test('a compose web container lists and inspects with the real engine\'s keys and about its size', async () => {
    const list = (await (await fetch(`${at}/v1.45/containers/json?all=1`)).json()) as Array<Record<string, unknown> & { Id: string; Names: string[]; State: string }>;
    expect(list).toHaveLength(30);
    const web = list.find((c) => c.Names[0]!.endsWith('-web-1') && c.State === 'running')!;
    expect(keys(web).sort()).toEqual(keys(real.summary).sort());
    const inspect = (await (await fetch(`${at}/v1.45/containers/${web.Id}/json`)).json()) as Record<string, unknown>;
    // nginx declares a stop signal; the captured busybox does not.
    expect(keys(inspect).filter((k) => k !== 'Config.StopSignal').sort()).toEqual(keys(real.inspect).sort());
    for (const [mine, theirs] of [[web, real.summary], [inspect, real.inspect]] as const) {
      const ratio = JSON.stringify(mine).length / JSON.stringify(theirs).length;
      expect(ratio).toBeGreaterThan(0.8);
      expect(ratio).toBeLessThan(1.25);
    }
    expect(Object.keys((web.NetworkSettings as { Networks: object }).Networks)).toHaveLength(2);
    expect(web.Labels).toMatchObject({ 'com.docker.compose.service': 'web', 'com.docker.compose.oneoff': 'False' });
    const state = inspect.State as { Health: { Status: string; Log: unknown[] } };
    expect(state.Health.Status).toBe('healthy');
    expect(state.Health.Log).toHaveLength(5);
  });

  test('/_sim/calls counts the calls of every engine by route; DELETE resets it', async () => {
    expect((await fetch(`${at}/_sim/calls`, { method: 'DELETE' })).status).toBe(204);
    const other = `http://${sim26.engines[1]!.addr}`;
    const list = (await (await fetch(`${other}/containers/json?all=1`)).json()) as { Id: string }[];
    await (await fetch(`${other}/v1.45/containers/${list[0]!.Id}/json`)).arrayBuffer();
    await (await fetch(`${at}/containers/json?filters=${encodeURIComponent('{"status":["running"]}')}`)).arrayBuffer();
    const calls = (await (await fetch(`${at}/_sim/calls`)).json()) as { total: number; routes: Record<string, number> };
    expect(calls.routes).toEqual({ 'GET /containers/json': 1, 'GET /containers/{id}/json': 1, 'GET /containers/json?filters': 1 });
    expect(calls.total).toBe(3);
  });

  test('/_sim/engines shows each engine\'s capacity and what its containers reserve', async () => {
    const usage = (await (await fetch(`${at}/_sim/engines`)).json()) as { name: string; memTotal: number; reservedMemory: number; containers: number }[];
    expect(usage.map((u) => u.name)).toEqual(['sim-0', 'sim-1']);
    const before = usage[0]!.reservedMemory;
    expect(before).toBeGreaterThan(0); // the web and db services have limits
    const r = await fetch(`${at}/containers/create`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ Image: 'busybox', Cmd: ['true'], HostConfig: { Memory: 1024 ** 3 } }) });
    expect(r.status).toBe(201);
    const after = (await (await fetch(`${at}/_sim/engines`)).json()) as { reservedMemory: number; containers: number }[];
    expect(after[0]!.reservedMemory).toBe(before + 1024 ** 3);
    expect(after[0]!.containers).toBe(31);
  });
});
