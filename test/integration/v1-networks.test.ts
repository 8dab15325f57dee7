/**
 * Networks and volumes by node, as v1 had them, through the compiled `swarm manage` over a mixed
 * cluster of three real engines (node-1 and node-3 dockerd 20.10, node-2 dockerd 26 refusing clients
 * below API 1.44, as Docker Engine 29), driven by the docker CLI v28 and compose v2:
 * `<node>/<name>` networks, ambiguous names, volumes placed by whitelist and constraint labels, the
 * scheduler refusing (and explaining) a container whose network lives on another node, and containers
 * following the named volume they mount.
 *
 *   TESTBED_ID=7 npm run build && TESTBED_ID=7 node_modules/.bin/bun test --timeout 300000 test/integration/v1-networks.test.ts
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
const P = `n${Date.now().toString(36)}`; // unique name prefix for this run

const docker = (args: string[], timeoutS = 60) => dockerCli(host, args, { timeoutMs: timeoutS * 1000, dockerConfig: true });

async function ok(args: string[], timeoutS = 60): Promise<string> {
  const r = await docker(args, timeoutS);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);

async function nodeOf(container: string): Promise<string> {
  return (await ok(['inspect', '-f', '{{.Node.Name}}', container])).trim();
}

/** Asked of each engine directly: the containers named `name` it holds, any state. */
async function onEngines(name: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of hosts) {
    const r = await dockerCli(h.addr, ['ps', '-a', '--filter', `name=^/${name}$`, '--format', '{{.Names}} {{.State}}'], { dockerConfig: true, timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`docker ps on ${h.name}: ${r.stderr}`);
    out.push(...lines(r.stdout).map((l) => `${h.name} ${l}`));
  }
  return out;
}

/** `docker volume ls` names (`<node>/<name>`) of one volume. */
async function volumeNodes(name: string): Promise<string[]> {
  return lines(await ok(['volume', 'ls', '--format', '{{.Name}}']))
    .filter((n) => n.endsWith(`/${name}`))
    .sort();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-v1-networks-it-'));
  hosts = await testbedUp(3, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start(['manage', '-H', host, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitFor('3 healthy nodes', async () => ((await docker(['info'], 20)).stdout.match(/Status: Healthy/g)?.length === 3 ? true : undefined), 60_000, 300);
}, 400_000);

afterAll(async () => {
  await manager?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-v1-networks-it.log'), manager.log());
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

describe('networks by node', () => {
  const net = `${P}-testn`;

  test('network create <node>/<name> creates it on that node only', async () => {
    await ok(['network', 'create', '-d', 'bridge', `node-1/${net}`]);
    await ok(['network', 'create', '-d', 'bridge', `node-2/${net}`]);
    expect(lines(await ok(['network', 'ls', '--filter', `name=${net}`, '--format', '{{.Name}}'])).sort()).toEqual([`node-1/${net}`, `node-2/${net}`]);
    const engine3 = await dockerCli(hosts[2]!.addr, ['network', 'ls', '--filter', `name=${net}`, '-q'], { dockerConfig: true });
    expect(engine3.stdout.trim()).toBe('');
  });

  test('run --net <node>/<name> (with --network-alias) goes to that node, on both engine kinds', async () => {
    for (const n of ['node-1', 'node-2']) {
      await ok(['run', '-d', '--name', `${P}-web-${n}`, '--net', `${n}/${net}`, '--network-alias', 'web', 'busybox', 'sleep', '600']);
      expect(await nodeOf(`${P}-web-${n}`)).toBe(n);
      expect((await ok(['inspect', '-f', '{{.State.Status}}', `${P}-web-${n}`])).trim()).toBe('running');
      await ok(['run', '-d', '--name', `${P}-plain-${n}`, '--net', `${n}/${net}`, 'busybox', 'sleep', '600']);
      expect(await nodeOf(`${P}-plain-${n}`)).toBe(n);
      // The alias answers on the node's own network.
      const ping = await ok(['run', '--rm', '--net', `${n}/${net}`, 'busybox', 'ping', '-c', '1', '-W', '5', 'web']);
      expect(ping).toContain('1 packets received');
    }
  }, 120_000);

  test('inspect of a name several engines have fails as in v1; <node>/<name> answers with its Containers', async () => {
    const bridge = await docker(['network', 'inspect', 'bridge']);
    expect(bridge.code).toBe(1);
    expect(bridge.stderr).toContain('Error response from daemon: No such network: bridge (3 networks are named bridge: node-1/bridge, node-2/bridge, node-3/bridge;');
    const custom = await docker(['network', 'inspect', net]);
    expect(custom.code).toBe(1);
    expect(custom.stderr).toContain(`No such network: ${net} (2 networks are named ${net}: node-1/${net}, node-2/${net};`);
    expect((await ok(['network', 'inspect', '-f', '{{.Name}} {{.Scope}}', 'node-1/bridge'])).trim()).toBe('bridge local');
    for (const n of ['node-1', 'node-2']) {
      const names = (await ok(['network', 'inspect', '-f', '{{range .Containers}}{{.Name}} {{end}}', `${n}/${net}`])).trim().split(' ').sort();
      expect(names).toEqual([`${P}-plain-${n}`, `${P}-web-${n}`]);
    }
    const rm = await docker(['network', 'rm', 'bridge']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toContain('No such network bridge (3 networks are named bridge');
  });

  test('a network created by compose (its project label) is listed without the node prefix', async () => {
    await ok(['network', 'create', '--label', `com.docker.compose.project=${P}c`, `node-3/${P}c_default`]);
    expect(lines(await ok(['network', 'ls', '--filter', `name=${P}c_`, '--format', '{{.Name}}']))).toEqual([`${P}c_default`]);
    await ok(['network', 'rm', `${P}c_default`]);
  });

  test('clean up', async () => {
    await ok(['rm', '-f', `${P}-web-node-1`, `${P}-web-node-2`, `${P}-plain-node-1`, `${P}-plain-node-2`]);
    await ok(['network', 'rm', `node-1/${net}`, `node-2/${net}`]);
    expect(lines(await ok(['network', 'ls', '--filter', `name=${net}`, '-q']))).toEqual([]);
  });
});

describe('volumes placed by filters', () => {
  test('a whitelist label creates the volume on the whitelisted nodes only', async () => {
    await ok(['volume', 'create', '--name', `${P}-wl`, '--label', 'com.docker.swarm.whitelists=["node==node-1|node-2"]']);
    expect(await volumeNodes(`${P}-wl`)).toEqual([`node-1/${P}-wl`, `node-2/${P}-wl`]);
  });

  test('constraints in labels: by node name, and by engine label (storagedriver)', async () => {
    await ok(['volume', 'create', '--label', 'com.docker.swarm.constraints=["node==node-3"]', `${P}-c3`]);
    expect(await volumeNodes(`${P}-c3`)).toEqual([`node-3/${P}-c3`]);
    await ok(['volume', 'create', '--label', 'com.docker.swarm.constraints=["storagedriver==btrfs"]', `${P}-btrfs`]);
    expect(await volumeNodes(`${P}-btrfs`)).toEqual([`node-2/${P}-btrfs`]);
  });

  test('without filters a volume is created on every node, as in v1', async () => {
    await ok(['volume', 'create', `${P}-all`]);
    expect(await volumeNodes(`${P}-all`)).toEqual(['node-1', 'node-2', 'node-3'].map((n) => `${n}/${P}-all`));
  });

  test('labels no node satisfies: the scheduler says why, and no volume is made', async () => {
    const r = await docker(['volume', 'create', '--label', 'com.docker.swarm.constraints=["node==nowhere"]', `${P}-none`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Unable to find a node that satisfies the following conditions');
    expect(r.stderr).toContain('0/3 nodes are available: 3 nodes: constraint node==nowhere not met (node-1, node-2, node-3)');
    expect(await volumeNodes(`${P}-none`)).toEqual([]);
  });
});

describe('a network on one node and a constraint for another', () => {
  test('docker run: the scheduler explains, and no engine keeps a container', async () => {
    const net = `${P}-n1net`;
    await ok(['network', 'create', net]);
    const listed = lines(await ok(['network', 'ls', '--filter', `name=${net}`, '--format', '{{.Name}}']));
    expect(listed).toHaveLength(1);
    const where = listed[0]!.split('/')[0]!;
    for (const other of hosts.map((h) => h.name).filter((n) => n !== where)) {
      const name = `${P}-away-${other}`;
      const r = await docker(['run', '-d', '--name', name, '--net', net, '-e', `constraint:node==${other}`, 'busybox', 'sleep', '600']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`Unable to find a node that satisfies the following conditions \n[available container slots]\n[node==${other}]\n[network ${net} (on ${where})]`);
      expect(r.stderr).toContain(`${other}: network ${net} is local to ${where}`);
      expect(r.stderr).not.toContain('not found');
      expect(await onEngines(name)).toEqual([]);
    }
    // Without the constraint it follows the network.
    await ok(['run', '-d', '--name', `${P}-follows`, '--net', net, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-follows`)).toBe(where);
    await ok(['rm', '-f', `${P}-follows`]);
    await ok(['network', 'rm', net]);
  }, 120_000);

  test('compose v2: a service constrained away from its project network fails with the explanation, leaving no container', async () => {
    const project = `${P}c13`;
    const dir = join(work, project);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'compose.yaml'),
      `services:
  app:
    image: busybox
    command: ["sleep", "600"]
    environment:
      - "constraint:node==node-2"
networks:
  default:
    labels:
      com.docker.swarm.constraints: '["node==node-1"]'
`,
    );
    const compose = (args: string[]): Promise<CliResult> =>
      run(['docker', '-H', host, 'compose', '-p', project, '--project-directory', dir, '-f', join(dir, 'compose.yaml'), ...args], { timeoutMs: 120_000, env: { DOCKER_CONFIG: privateDockerConfig() } });
    const up = await compose(['up', '-d']);
    expect(up.code).not.toBe(0);
    const output = up.stderr + up.stdout;
    expect(output).toContain('Unable to find a node that satisfies the following conditions');
    expect(output).toContain(`node-2: network ${project}_default is local to node-1`);
    expect(output).not.toContain('not found');
    const left: string[] = [];
    for (const h of hosts) {
      const r = await dockerCli(h.addr, ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { dockerConfig: true });
      left.push(...lines(r.stdout).map((id) => `${h.name} ${id}`));
    }
    expect(left).toEqual([]);
    const down = await compose(['down']);
    expect(down.code).toBe(0);
    expect(lines(await ok(['network', 'ls', '--filter', `name=${project}_`, '-q']))).toEqual([]);
  }, 180_000);
});

describe('named volumes follow their data', () => {
  for (const [n, kind] of [
    ['node-2', 'dockerd 26'],
    ['node-1', 'dockerd 20.10'],
  ] as const) {
    test(`a volume on ${n} only (${kind}) draws every container that mounts it there`, async () => {
      const vol = `${P}-data-${n}`;
      await ok(['volume', 'create', `${n}/${vol}`]);
      expect(await volumeNodes(vol)).toEqual([`${n}/${vol}`]);
      await ok(['run', '-d', '--name', `${vol}-w`, '-v', `${vol}:/data`, 'busybox', 'sh', '-c', 'echo kept > /data/f; sleep 600']);
      expect(await nodeOf(`${vol}-w`)).toBe(n);
      // -v and --mount type=volume, several times over (spread would otherwise move them around).
      for (let i = 0; i < 3; i++) {
        const mount = i % 2 === 0 ? ['-v', `${vol}:/data`] : ['--mount', `type=volume,src=${vol},dst=/data`];
        await ok(['run', '-d', '--name', `${vol}-r${i}`, ...mount, 'busybox', 'sleep', '600']);
        expect(await nodeOf(`${vol}-r${i}`)).toBe(n);
        expect((await ok(['exec', `${vol}-r${i}`, 'cat', '/data/f'])).trim()).toBe('kept');
      }
      // Still on one node: no copy of the volume was made elsewhere.
      expect(await volumeNodes(vol)).toEqual([`${n}/${vol}`]);
      await ok(['rm', '-f', `${vol}-w`, `${vol}-r0`, `${vol}-r1`, `${vol}-r2`]);
      await ok(['volume', 'rm', vol]);
    }, 120_000);
  }

  test('a volume on every node adds nothing: the containers spread', async () => {
    const vol = `${P}-everywhere`;
    await ok(['volume', 'create', vol]);
    const names = [0, 1, 2].map((i) => `${vol}-${i}`);
    for (const name of names) await ok(['run', '-d', '--name', name, '-v', `${vol}:/data`, 'busybox', 'sleep', '600']);
    for (const name of names) {
      const labels = JSON.parse(await ok(['inspect', '-f', '{{json .Config.Labels}}', name])) as Record<string, string>;
      expect(labels['com.docker.swarm.id']).toMatch(/^[0-9a-f]{64}$/);
      expect(labels['com.docker.swarm.constraints']).toBeUndefined();
      expect(labels['com.docker.swarm.whitelists']).toBeUndefined();
    }
    const nodes = await Promise.all(names.map(nodeOf));
    expect(new Set(nodes).size).toBeGreaterThan(1);
    await ok(['rm', '-f', ...names]);
    await ok(['volume', 'rm', vol]);
  }, 120_000);
});
