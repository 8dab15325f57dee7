/**
 * v1 fidelity of creates through the manager, with the real docker CLI v28, dockerode and compose v1
 * (1.29) on a mixed bed of 3 engines labelled idx=0,1,2: node-1 and node-3 dockerd 20.10, node-2
 * dockerd 26 refusing API < 1.44 (as Engine 29), and the bed's registry.
 *
 * - two constraints of one key (`idx!=0`, `idx!=1`): the label form and a regular expression;
 * - `--cpus` reserves CPUs as `-c` does;
 * - `docker run --pull never|missing|always`: the client's pull policy governs (v1's pull-on-create
 *   behind swarm.pull-on-create); an image on another node is used there;
 * - attach with a request body (dockerode): the body is not the container's stdin; exec still works;
 * - a container addressed by its swarm ID;
 * - a node whose dockerd was killed, not yet noticed: the create's error, the next creates avoid it,
 *   swarm.createretry=1 retries elsewhere;
 * - compose v1 services with reschedule:on-node-failure come back on another node, `ps` finds them.
 *
 *   TESTBED_ID=8 npm run build && TESTBED_ID=8 node_modules/.bin/bun test --timeout 300000 test/integration/v1-create.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import Docker from 'dockerode';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, registryAddr, run, startEngine, testbedDown, testbedUp, TESTBED_REGISTRY, type CliResult, type TestbedHost } from '../helpers/testbed';

const P = `v1c${Date.now().toString(36)}`;
const SWARM_ID = '{{index .Config.Labels "com.docker.swarm.id"}}';

let bin: SwarmBinary;
let hosts: TestbedHost[] = [];
let work = '';
let REGISTRY = TESTBED_REGISTRY;
const managers: RunningSwarm[] = [];
/** The manager most tests use: refresh every 10 min (so a dead engine goes unnoticed), createretry=1. */
let host = '';

function docker(args: string[], addr = host, timeoutS = 60): Promise<CliResult> {
  return run(['docker', '-H', addr, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(args: string[], addr = host): Promise<string> {
  const r = await docker(args, addr);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

async function nodeOf(ref: string, addr = host): Promise<string> {
  return ok(['inspect', '-f', '{{.Node.Name}}', ref], addr);
}

/** The lines of `docker info` about one node, up to the next node. */
async function nodeBlock(name: string, addr = host): Promise<string> {
  const info = (await docker(['info'], addr, 20)).stdout;
  const at = info.indexOf(`  ${name}: `);
  if (at < 0) return '';
  const rest = info.slice(at + 2);
  const next = rest.slice(1).search(/\n {2}\S/);
  return next < 0 ? rest : rest.slice(0, next + 1);
}

async function startManager(extra: string[]): Promise<{ addr: string; manager: RunningSwarm }> {
  const addr = `tcp://127.0.0.1:${await freePort()}`;
  const manager = bin.start(['manage', '-H', addr, ...extra, `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  managers.push(manager);
  await waitFor('3 healthy nodes', async () => ((await docker(['info'], addr, 20)).stdout.match(/Status: Healthy/g)?.length === 3 ? true : undefined), 60_000, 300);
  return { addr, manager };
}

/** Removes every container of the cluster (a clean slate for placement tests). */
async function removeAll(addr = host): Promise<void> {
  const ids = (await ok(['ps', '-aq'], addr)).split('\n').filter(Boolean);
  if (ids.length) await ok(['rm', '-f', ...ids], addr);
}

let main: RunningSwarm;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-v1c-it-'));
  hosts = await testbedUp(3, {
    labels: { 1: { idx: '0' }, 2: { idx: '1' }, 3: { idx: '2' } },
    registry: true,
    engines: { 2: '26' },
    minApi: { 2: '1.44' },
  });
  REGISTRY = registryAddr() ?? TESTBED_REGISTRY;
  bin = new SwarmBinary();
  const m = await startManager([
    '--engine-refresh-min-interval',
    '10m',
    '--engine-refresh-max-interval',
    '10m',
    '--engine-failure-retry',
    '20',
    '--cluster-opt',
    'swarm.createretry=1',
  ]);
  host = m.addr;
  main = m.manager;
}, 600_000);

afterAll(async () => {
  for (const m of managers) await m.stop().catch(() => undefined);
  if (main) writeFileSync(join(tmpdir(), 'swarm-v1-create-it.log'), managers.map((m) => m.log()).join('\n----\n'));
  bin?.cleanup();
  await testbedDown().catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe('two constraints with the same key (idx=0,1,2 on node-1..3)', () => {
  test('docker CLI 28 keeps only the last -e of one name: `-e constraint:idx!=0 -e constraint:idx!=1` is one constraint', async () => {
    await ok(['run', '-d', '--name', `${P}-twoe`, '-e', 'constraint:idx!=0', '-e', 'constraint:idx!=1', 'busybox', 'sleep', '600']);
    expect(await ok(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.constraints"}}', `${P}-twoe`])).toBe('["idx!=1"]');
  });

  test('the label form with both: every container lands on node-3', async () => {
    for (const i of [1, 2, 3]) {
      const name = `${P}-lbl${i}`;
      await ok(['run', '-d', '--name', name, '-l', 'com.docker.swarm.constraints=["idx!=0","idx!=1"]', 'busybox', 'sleep', '600']);
      expect(await nodeOf(name)).toBe('node-3');
    }
    expect(await ok(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.constraints"}}', `${P}-lbl1`])).toBe('["idx!=0","idx!=1"]');
  });

  test('a regular expression: -e constraint:idx!=/[01]/ lands on node-3 too', async () => {
    for (const i of [1, 2, 3]) {
      const name = `${P}-re${i}`;
      await ok(['run', '-d', '--name', name, '-e', 'constraint:idx!=/[01]/', 'busybox', 'sleep', '600']);
      expect(await nodeOf(name)).toBe('node-3');
    }
    // Both forms exclude both nodes: nothing fits once node-3 is excluded as well.
    const none = await docker(['run', '-d', '-e', 'constraint:idx!=/[012]/', 'busybox', 'true']);
    expect(none.code).toBe(125);
    expect(none.stderr).toContain('Unable to find a node that satisfies the following conditions');
  });
});

describe('--cpus reserves CPUs as -c does', () => {
  test('docker info shows 1.5 Reserved CPUs, the engine gets NanoCpus; a node without room is refused', async () => {
    await removeAll();
    await ok(['run', '-d', '--name', `${P}-cpus`, '--cpus', '1.5', '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600']);
    expect(await ok(['inspect', '-f', '{{.HostConfig.NanoCpus}}', `${P}-cpus`])).toBe('1500000000');
    expect(await nodeBlock('node-2')).toContain('└ Reserved CPUs: 1.5 / 2');
    // 1.5 of 2 CPUs taken: one more CPU, by either flag, does not fit on node-2.
    for (const flag of [['--cpus', '1'], ['-c', '1']]) {
      const r = await docker(['run', '-d', ...flag, '-e', 'constraint:node==node-2', 'busybox', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('no resources available to schedule container');
    }
    // Spread weighs it: a --cpus 1 container goes to a node with CPUs left, not node-2.
    await ok(['run', '-d', '--name', `${P}-cpus1`, '--cpus', '1', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-cpus1`)).not.toBe('node-2');
    const half = await ok(['run', '-d', '--name', `${P}-cpus-half`, '--cpus', '0.5', '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600']);
    expect(half).toMatch(/^[0-9a-f]{64}$/);
    expect(await nodeBlock('node-2')).toContain('└ Reserved CPUs: 2 / 2');
  });
});

describe('docker run --pull: the client governs pulls', () => {
  const image = () => `${REGISTRY}/busybox`;

  /** Which engines hold the registry image, asked of each engine directly. */
  async function holders(ref: string): Promise<string[]> {
    const out: string[] = [];
    for (const h of hosts) if ((await ok(['images', '-q', ref], `tcp://${h.addr}`)) !== '') out.push(h.name);
    return out;
  }

  test('--pull never: no engine has it, so "No such image", and nothing is pulled', async () => {
    expect(await holders(image())).toEqual([]);
    const r = await docker(['run', '--pull', 'never', '--name', `${P}-never`, image(), 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`No such image: ${image()}:latest`);
    expect(await holders(image())).toEqual([]);
  });

  test('--pull missing (the default): the CLI pulls through the manager (every engine), then creates', async () => {
    const r = await docker(['run', '--rm', image(), 'echo', 'pulled']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('pulled\n');
    expect(r.stderr).toContain(`Unable to find image '${image()}:latest' locally`);
    expect((await holders(image())).sort()).toEqual(['node-1', 'node-2', 'node-3']);
  });

  test('--pull always: pulls although the image is there', async () => {
    const r = await docker(['run', '--rm', '--pull', 'always', image(), 'echo', 'again']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('again\n');
    for (const h of hosts) expect(r.stderr).toContain(`${h.name}: Pulling ${image()}:latest... : Status: Image is up to date`);
  });

  test('--pull never with an image only one node has: it runs there, nothing is pulled elsewhere', async () => {
    const only = `${P}-only:v1`;
    await ok(['tag', 'busybox', only], `tcp://${hosts[2]!.addr}`);
    await waitFor('the manager to see the tag', async () => ((await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).includes(only) ? true : undefined), 20_000, 300);
    await ok(['run', '-d', '--pull', 'never', '--name', `${P}-onlyrun`, only, 'sleep', '600']);
    expect(await nodeOf(`${P}-onlyrun`)).toBe('node-3');
    expect(await holders(only)).toEqual(['node-3']);
  });

  test('--cluster-opt swarm.pull-on-create=true (v1): the engine pulls on create, even with --pull never', async () => {
    await ok(['rmi', image()]);
    expect(await holders(image())).toEqual([]);
    const v1 = await startManager(['--cluster-opt', 'swarm.pull-on-create=true']);
    const r = await docker(['run', '--pull', 'never', '--name', `${P}-v1pull`, '-e', 'constraint:node==node-1', image(), 'echo', 'v1'], v1.addr);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('v1\n');
    expect(await holders(image())).toEqual(['node-1']);
    await v1.manager.stop();
  });
});

describe('attach takes no body', () => {
  /** Reads a hijacked attach stream (stdout frames, no TTY) to its end. */
  function readAll(stream: Duplex): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
      stream.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      stream.on('error', reject);
    });
  }

  test("dockerode's attach body does not reach cat's stdin, on both engine kinds; exec start still gets its body", async () => {
    const port = Number(host.split(':').pop());
    const client = new Docker({ host: '127.0.0.1', port, version: 'v1.41' });
    for (const node of ['node-1', 'node-2']) {
      const c = await client.createContainer({
        Image: 'busybox',
        Cmd: ['cat'],
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        Env: [`constraint:node==${node}`],
        name: `${P}-cat-${node}`,
      });
      // dockerode sends these options as the request's JSON body (and in the query).
      const stream = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const out = readAll(stream);
      await c.start();
      stream.end('typed on stdin\n');
      const text = await out;
      expect(text).toContain('typed on stdin');
      expect(text).not.toContain('"stream"');
      expect(text).not.toContain('hijack');
      expect(await nodeOf(`${P}-cat-${node}`)).toBe(node);

      const holder = await client.createContainer({ Image: 'busybox', Cmd: ['sleep', '600'], Env: [`constraint:node==${node}`], name: `${P}-ex-${node}` });
      await holder.start();
      const exec = await holder.exec({ Cmd: ['echo', 'exec body ok'], AttachStdout: true, AttachStderr: true });
      const es = (await exec.start({ hijack: true, stdin: false, Detach: false, Tty: false })) as unknown as Duplex;
      expect(await readAll(es)).toContain('exec body ok');
    }
  });
});

describe('swarm IDs as references', () => {
  test('inspect, logs and rm by the com.docker.swarm.id label value (full or 12 characters)', async () => {
    const name = `${P}-sid`;
    await ok(['run', '-d', '--name', name, 'busybox', 'sh', '-c', 'echo said-by-sid; sleep 600']);
    const sid = await ok(['inspect', '-f', SWARM_ID, name]);
    expect(sid).toMatch(/^[0-9a-f]{64}$/);
    expect(await ok(['inspect', '-f', '{{.Name}}', sid])).toBe(`/${name}`);
    expect(await ok(['inspect', '-f', '{{.Name}}', sid.slice(0, 12)])).toBe(`/${name}`);
    await waitFor('the log line', async () => ((await docker(['logs', sid])).stdout.includes('said-by-sid') ? true : undefined), 10_000, 200);
    await ok(['rm', '-f', sid.slice(0, 12)]);
    expect((await docker(['inspect', name])).code).not.toBe(0);
  });
});

describe('a node whose dockerd died, not yet noticed by the manager', () => {
  const dead = () => hosts[0]!;

  test('node-1 is the spread favourite while it runs (emptiest)', async () => {
    await removeAll();
    await ok(['run', '-d', '--name', `${P}-on2`, '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600']);
    await ok(['run', '-d', '--name', `${P}-on3`, '-e', 'constraint:node==node-3', 'busybox', 'sleep', '600']);
    await ok(['run', '-d', '--name', `${P}-probe`, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-probe`)).toBe('node-1');
    await ok(['rm', '-f', `${P}-probe`]);
  });

  test("a create pinned there fails with the docker client's words; node-1 still shows Healthy", async () => {
    await killEngine(1);
    const r = await docker(['run', '-d', '-e', 'constraint:node==node-1', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`Cannot connect to the Docker daemon at tcp://${dead().addr} (node node-1)`);
    expect(await nodeBlock('node-1')).toContain('└ Status: Healthy');
  });

  test('the next create avoids node-1, though spread would pick it', async () => {
    await ok(['run', '-d', '--name', `${P}-avoid`, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-avoid`)).not.toBe('node-1');
  });

  test('swarm.createretry=1: a create sent to node-1 first (soft constraint) is retried on another node and succeeds', async () => {
    const r = await docker(['run', '-d', '--name', `${P}-retried`, '-e', 'constraint:node==~node-1', 'busybox', 'sleep', '600']);
    expect(r.code).toBe(0);
    expect(await nodeOf(`${P}-retried`)).not.toBe('node-1');
    expect(main.log()).toContain(`Failed to create container: Cannot connect to the Docker daemon at tcp://${dead().addr} (node node-1)`);
    expect(await nodeBlock('node-1')).toContain('└ Status: Healthy');
  });

  test('node-1 back', async () => {
    await startEngine(1);
    await waitFor('node-1 answering through the manager', async () => ((await docker(['run', '--rm', '-e', 'constraint:node==node-1', 'busybox', 'true'])).code === 0 ? true : undefined), 60_000, 1000);
  }, 120_000);
});

describe('compose v1: services with reschedule:on-node-failure come back on another node', () => {
  const project = `${P}cv1`;
  let addr = '';
  let compose: (args: string[], timeoutS?: number) => Promise<CliResult>;
  const ids: Record<string, { node: string; swarmId: string }> = {};

  beforeAll(async () => {
    // One rescheduling manager at a time: the main one is stopped, this one notices failures fast.
    await main.stop();
    const m = await startManager(['--engine-failure-retry', '1', '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s']);
    addr = m.addr;
    await removeAll(addr);
    // node-1 busier than node-2, so the project moves to node-2 (dockerd 26) when node-3 fails.
    for (const i of [1, 2]) await ok(['run', '-d', '--name', `${P}-busy${i}`, '-e', 'constraint:node==node-1', 'busybox', 'sleep', '600'], addr);
    const dir = join(work, project);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      `services:
  web:
    image: busybox
    command: ["sleep", "600"]
    environment: ["reschedule:on-node-failure"]
  worker:
    image: busybox
    command: ["sleep", "600"]
    environment: ["reschedule:on-node-failure"]
networks:
  default:
    labels:
      com.docker.swarm.constraints: '["node==node-3"]'
`,
    );
    compose = (args, timeoutS = 120) =>
      run(['docker-compose', '-H', addr, '-p', project, '--project-directory', dir, '-f', join(dir, 'docker-compose.yml'), ...args], {
        timeoutMs: timeoutS * 1000,
        env: { DOCKER_CONFIG: join(work, '.docker-v1'), COMPOSE_INTERACTIVE_NO_CLI: '1' },
      });
  }, 180_000);

  test('up -d: both services on node-3', async () => {
    const up = await compose(['up', '-d'], 180);
    expect(up.code).toBe(0);
    for (const s of ['web', 'worker']) {
      const name = `${project}_${s}_1`;
      const [node, swarmId] = (await ok(['inspect', '-f', `{{.Node.Name}} ${SWARM_ID}`, name], addr)).split(' ');
      expect(node).toBe('node-3');
      ids[s] = { node: node!, swarmId: swarmId! };
    }
    const ps = await compose(['ps']);
    expect(ps.stdout).toMatch(new RegExp(`${project}_web_1 .* Up`));
  }, 240_000);

  test('node-3 crashes: the project comes back on node-2, docker-compose ps finds it Up, web reaches worker', async () => {
    await killEngine(3, { hard: true });
    for (const s of ['web', 'worker']) {
      await waitFor(`${s} running on another node`, async () => {
        const r = await docker(['inspect', '-f', '{{.Node.Name}} {{.State.Running}}', `${project}_${s}_1`], addr, 15);
        return r.code === 0 && r.stdout.trim() === 'node-2 true' ? true : undefined;
      }, 60_000, 500);
      // Same swarm ID, so the container is still the same one by that reference.
      expect(await ok(['inspect', '-f', '{{.Node.Name}} {{.Name}}', ids[s]!.swarmId], addr)).toBe(`node-2 /${project}_${s}_1`);
    }
    const ps = await compose(['ps']);
    expect(ps.code).toBe(0);
    for (const s of ['web', 'worker']) expect(ps.stdout).toMatch(new RegExp(`${project}_${s}_1 .* Up`));
    const ping = await compose(['exec', '-T', 'web', 'ping', '-c', '1', '-W', '3', 'worker'], 60);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toContain('1 packets received');
  }, 180_000);
});
