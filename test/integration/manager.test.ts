/**
 * `swarm manage` driven by the real docker CLI (v28) against 3 real testbed engines: what a user
 * types and sees. The compiled binary runs from a temporary directory on a free loopback port.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { clusterKindFromEnv, killEngine, registryAddr, run, startEngine, testbedDown, testbedUp, TESTBED_REGISTRY, type TestbedHost } from '../helpers/testbed';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let work = '';
let hosts: TestbedHost[] = [];
let REGISTRY = TESTBED_REGISTRY;
const P = `t${Date.now().toString(36)}`; // unique name prefix for this run

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(cmd: string[], opts: { input?: string; timeoutS?: number } = {}): Promise<Out> {
  return run(cmd, {
    stdin: opts.input,
    timeoutMs: (opts.timeoutS ?? 60) * 1000,
    env: { DOCKER_CONFIG: join(work, '.docker'), DOCKER_BUILDKIT: '0' },
  });
}

/** `docker -H <manager> ...args`, killed after timeoutS. */
function docker(args: string[], opts: { input?: string; timeoutS?: number } = {}): Promise<Out> {
  return sh(['docker', '-H', host, ...args], opts);
}

async function ok(args: string[], opts: { input?: string; timeoutS?: number } = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function infoText(): Promise<string> {
  return (await docker(['info'], { timeoutS: 20 })).stdout;
}

/** The node a container landed on, from its inspect Node object. */
async function nodeOf(name: string): Promise<string> {
  return (await ok(['inspect', '-f', '{{.Node.Name}}', name])).trim();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-mgr-it-'));
  // A fresh 3-host testbed with its registry (empty engines: placement is predictable).
  // SWARM_TEST_CLUSTER=mixed: host 2 is dockerd 26 refusing API < 1.44 (as Engine 29), the others 20.10.
  hosts = await testbedUp(3, { registry: true, ...clusterKindFromEnv() });
  REGISTRY = registryAddr() ?? TESTBED_REGISTRY;
  bin = new SwarmBinary();
  const port = await freePort();
  host = `tcp://127.0.0.1:${port}`;
  manager = bin.start([
    'manage',
    '-H',
    host,
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    '--engine-failure-retry',
    '2',
    `nodes://${hosts.map((h) => h.addr).join(',')}`,
  ]);
  await waitFor('3 healthy nodes', async () => ((await infoText()).match(/Status: Healthy/g)?.length === hosts.length ? true : undefined), 60_000, 300);
}, 700_000);

afterAll(async () => {
  await manager?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-manager-it.log'), manager.log());
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

describe('cluster view', () => {
  test('docker info shows the manager and 3 Healthy nodes with their details', async () => {
    const out = await infoText();
    expect(out).toContain('Server Version: swarm/1.2.9');
    expect(out).toContain('Role: primary');
    expect(out).toContain('Strategy: spread');
    expect(out).toContain('Filters: health, port, containerslots, dependency, affinity, constraint, whitelist');
    expect(out).toContain(`Nodes: ${hosts.length}`);
    for (const h of hosts) expect(out).toContain(`${h.name}: ${h.addr}`);
    expect(out.match(/└ Status: Healthy/g)).toHaveLength(hosts.length);
    expect(out).toMatch(/└ Reserved Memory: [\d.]+ \w?B \/ [\d.]+ GiB/);
    expect(out).toMatch(/└ Labels: .*ostype=linux/);
    expect(out).toMatch(/└ ServerVersion: 20\.10/);
  });

  test('docker version shows swarm as the server, API 1.41', async () => {
    const out = await ok(['version']);
    expect(out).toMatch(/Server:[\s\S]*Version:\s+swarm\/1\.2\.9/);
    expect(out).toMatch(/API version:\s+1\.41 \(minimum version 1\.24\)/);
  });
});

describe('containers', () => {
  test('run -d twice spreads over two nodes; ps lists both as <node>/<name>', async () => {
    const id1 = (await ok(['run', '-d', '--name', `${P}-d1`, 'busybox', 'sleep', '600'])).trim();
    const id2 = (await ok(['run', '-d', '--name', `${P}-d2`, 'busybox', 'sleep', '600'])).trim();
    expect(id1).toMatch(/^[0-9a-f]{64}$/);
    expect(id2).toMatch(/^[0-9a-f]{64}$/);
    const n1 = await nodeOf(`${P}-d1`);
    const n2 = await nodeOf(`${P}-d2`);
    expect(n1).not.toBe(n2);
    const ps = await ok(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps).toContain(`${n1}/${P}-d1 Up`);
    expect(ps).toContain(`${n2}/${P}-d2 Up`);
  });

  test('ps filters: name, label, status, node; -a shows exited containers', async () => {
    await ok(['run', '-d', '--name', `${P}-misc`, '--label', `suite=${P}`, 'busybox', 'true']);
    await ok(['wait', `${P}-misc`]);
    const byName = await ok(['ps', '-a', '--filter', `name=${P}-misc`, '--format', '{{.Names}}|{{.Status}}']);
    expect(byName.trim()).toMatch(new RegExp(`^node-\\d+/${P}-misc\\|Exited \\(0\\)`));
    expect(await ok(['ps', '--filter', `name=${P}-misc`, '-q'])).toBe('');
    const byLabel = await ok(['ps', '-a', '--filter', `label=suite=${P}`, '--format', '{{.Names}}']);
    expect(byLabel.trim().split('\n')).toHaveLength(1);
    const exited = await ok(['ps', '-a', '--filter', 'status=exited', '--filter', `name=${P}-`, '--format', '{{.Names}}']);
    expect(exited).toContain(`${P}-misc`);
    expect(exited).not.toContain(`${P}-d1`);
    const node = await nodeOf(`${P}-d1`);
    const onNode = await ok(['ps', '--filter', `node=${node}`, '--format', '{{.Names}}']);
    expect(onNode).toContain(`${node}/${P}-d1`);
    expect(onNode).not.toContain(`${P}-d2`);
  });

  test('run --rm prints the output and returns the exit code', async () => {
    const r = await docker(['run', '--rm', 'busybox', 'echo', 'hello from swarm']);
    expect(r.stdout).toBe('hello from swarm\n');
    expect(r.code).toBe(0);
    const fail = await docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo oops >&2; exit 3']);
    expect(fail.code).toBe(3);
    expect(fail.stderr).toContain('oops');
  });

  test('run -i passes stdin through', async () => {
    const r = await docker(['run', '-i', '--rm', 'busybox', 'sh', '-c', 'tr a-z A-Z'], { input: 'piped text\n' });
    expect(r.stdout).toBe('PIPED TEXT\n');
    expect(r.code).toBe(0);
  });

  test('exec and exec -i run in the container on its node', async () => {
    const r = await docker(['exec', `${P}-d1`, 'sh', '-c', 'echo in-$(hostname)']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^in-[0-9a-f]{12}\n$/);
    const i = await docker(['exec', '-i', `${P}-d1`, 'cat'], { input: 'to exec\n' });
    expect(i.stdout).toBe('to exec\n');
    const code = await docker(['exec', `${P}-d1`, 'sh', '-c', 'exit 7']);
    expect(code.code).toBe(7);
  });

  test('logs and logs -f', async () => {
    await ok(['run', '-d', '--name', `${P}-logs`, 'busybox', 'sh', '-c', 'echo first; sleep 2; echo second; sleep 600']);
    await waitFor('first log line', async () => ((await docker(['logs', `${P}-logs`])).stdout.includes('first') ? true : undefined), 10_000, 200);
    const f = await docker(['logs', '-f', `${P}-logs`], { timeoutS: 5 });
    expect(f.stdout).toBe('first\nsecond\n');
    expect(f.code).toBe(137); // still following when killed
  });

  test('attach shows the output of a running container and its exit code', async () => {
    await ok(['run', '-d', '--name', `${P}-att`, 'busybox', 'sh', '-c', 'sleep 2; echo attached-output; exit 4']);
    const r = await docker(['attach', `${P}-att`], { timeoutS: 20 });
    expect(r.stdout).toContain('attached-output');
    expect(r.code).toBe(4);
  });

  test('stop, start, restart, pause, unpause, kill, rm -f change what ps shows', async () => {
    const name = `${P}-life`;
    await ok(['run', '-d', '--name', name, 'busybox', 'sleep', '600']);
    const status = async () => (await ok(['ps', '-a', '--filter', `name=${name}`, '--format', '{{.Status}}'])).trim();
    expect(await ok(['stop', '-t', '1', name])).toBe(`${name}\n`);
    expect(await status()).toMatch(/^Exited \(\d+\)/);
    expect(await ok(['start', name])).toBe(`${name}\n`);
    expect(await status()).toMatch(/^Up /);
    expect(await ok(['pause', name])).toBe(`${name}\n`);
    expect(await status()).toMatch(/\(Paused\)$/);
    expect(await ok(['unpause', name])).toBe(`${name}\n`);
    expect(await status()).not.toContain('Paused');
    expect(await ok(['restart', '-t', '1', name])).toBe(`${name}\n`);
    expect(await status()).toMatch(/^Up /);
    expect(await ok(['kill', name])).toBe(`${name}\n`);
    expect(await status()).toMatch(/^Exited \(137\)/);
    expect(await ok(['rm', '-f', name])).toBe(`${name}\n`);
    expect(await status()).toBe('');
  });

  test('rename keeps the container on its node under the new name', async () => {
    await ok(['run', '-d', '--name', `${P}-ren1`, 'busybox', 'sleep', '600']);
    await ok(['rename', `${P}-ren1`, `${P}-ren2`]);
    const names = await ok(['ps', '--filter', `name=${P}-ren`, '--format', '{{.Names}}']);
    expect(names.trim()).toMatch(new RegExp(`^node-\\d+/${P}-ren2$`));
    const clash = await docker(['rename', `${P}-ren2`, `${P}-d1`]);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain(`The name ${P}-d1 is already assigned`);
  });

  test('inspect adds the Node object; lookups by <node>/<name> and ID prefix work', async () => {
    const node = await nodeOf(`${P}-d1`);
    const j = JSON.parse(await ok(['inspect', `${node}/${P}-d1`]))[0];
    expect(j.Node.Name).toBe(node);
    expect(j.Node.Addr).toBe(hosts.find((h) => h.name === node)!.addr);
    expect(j.Node.Cpus).toBeGreaterThan(0);
    expect(j.Node.Memory).toBeGreaterThan(0);
    const short = j.Id.slice(0, 10);
    expect((await ok(['inspect', '-f', '{{.Name}}', short])).trim()).toBe(`/${P}-d1`);
  });

  test('top, stats --no-stream, port, diff, wait, update', async () => {
    const top = await ok(['top', `${P}-d1`]);
    expect(top).toContain('sleep 600');
    const stats = await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', `${P}-d1`], { timeoutS: 30 });
    expect(stats).toMatch(new RegExp(`${P}-d1 [\\d.]+\\w?i?B / `));
    const id = (await ok(['run', '-d', '--name', `${P}-net`, '-p', '8080', 'busybox', 'sleep', '600'])).trim();
    const port = await ok(['port', id]);
    const node = await nodeOf(`${P}-net`);
    const ip = hosts.find((h) => h.name === node)!.addr.split(':')[0];
    expect(port).toMatch(new RegExp(`^8080/tcp -> ${ip.replace(/\./g, '\\.')}:\\d+`));
    await ok(['exec', `${P}-d1`, 'touch', '/made-here']);
    expect(await ok(['diff', `${P}-d1`])).toContain('A /made-here');
    await ok(['update', '--memory', '64m', '--memory-swap', '128m', `${P}-d1`]);
    expect((await ok(['inspect', '-f', '{{.HostConfig.Memory}}', `${P}-d1`])).trim()).toBe(String(64 * 1024 * 1024));
    await ok(['run', '-d', '--name', `${P}-rmme`, 'busybox', 'sh', '-c', 'sleep 1; exit 5']);
    expect((await ok(['wait', `${P}-rmme`])).trim()).toBe('5');
  });

  test('ps -s shows each container\'s size, asked of its engine', async () => {
    await ok(['run', '-d', '--name', `${P}-sized`, 'busybox', 'sh', '-c', 'head -c 5000000 /dev/zero > /big; sleep 300']);
    const size = await waitFor('the file written', async () => {
      const out = (await ok(['ps', '-s', '--filter', `name=${P}-sized`, '--format', '{{.Size}}'])).trim();
      return out.startsWith('5') ? out : undefined;
    }, 20_000, 500);
    expect(size).toMatch(/^5(\.\d+)?MB \(virtual /);
    await ok(['rm', '-f', `${P}-sized`]);
  });

  test('cp both ways, export, commit', async () => {
    writeFileSync(join(work, 'hello.txt'), 'copied in\n');
    await ok(['run', '-d', '--name', `${P}-cpy`, 'busybox', 'sleep', '600']);
    await ok(['cp', join(work, 'hello.txt'), `${P}-cpy:/tmp/hello.txt`]);
    expect(await ok(['exec', `${P}-cpy`, 'cat', '/tmp/hello.txt'])).toBe('copied in\n');
    await ok(['exec', `${P}-cpy`, 'sh', '-c', 'echo from container > /tmp/out.txt']);
    await ok(['cp', `${P}-cpy:/tmp/out.txt`, join(work, 'out.txt')]);
    expect(readFileSync(join(work, 'out.txt'), 'utf8')).toBe('from container\n');
    await ok(['export', '-o', join(work, 'export.tar'), `${P}-cpy`]);
    const list = await sh(['tar', 'tf', join(work, 'export.tar')]);
    expect(list.stdout).toContain('tmp/out.txt');
    const img = (await ok(['commit', `${P}-cpy`, `${P}-committed:v1`])).trim();
    expect(img).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(`${P}-committed:v1`);
  });
});

describe('scheduling', () => {
  test('-m and -c reserve memory and CPUs, shown per node in docker info; too much is refused', async () => {
    const reserved = async () => {
      const out: Record<string, { cpus: number; mib: number }> = {};
      const info = await infoText();
      for (const h of hosts) {
        const block = info.slice(info.indexOf(`${h.name}: `)).split('\n').slice(0, 7).join('\n');
        const cpus = Number(/Reserved CPUs: ([\d.]+) \/ 2/.exec(block)?.[1]);
        const [, n, unit] = /Reserved Memory: ([\d.]+) (B|KiB|MiB|GiB) \//.exec(block) ?? [];
        out[h.name] = { cpus, mib: Number(n) * ({ B: 1 / 1024 ** 2, KiB: 1 / 1024, MiB: 1, GiB: 1024 } as Record<string, number>)[unit!]! };
      }
      return out;
    };
    const before = await reserved();
    await ok(['run', '-d', '--name', `${P}-resv`, '-m', '64m', '-c', '1', 'busybox', 'sleep', '600']);
    const node = await nodeOf(`${P}-resv`);
    const after = await reserved();
    expect(after[node]!.cpus - before[node]!.cpus).toBe(1);
    expect(after[node]!.mib - before[node]!.mib).toBe(64);
    // 1 CPU of 2 is sent to the engine as ceil(1×1024/2) shares
    expect((await ok(['inspect', '-f', '{{.HostConfig.CpuShares}}', `${P}-resv`])).trim()).toBe('512');
    const big = await docker(['run', '-d', '-m', '100g', 'busybox', 'true']);
    expect(big.code).toBe(125);
    expect(big.stderr).toContain('no resources available to schedule container');
  });

  test('constraints pin a container to a node; an impossible one gives v1\'s error', async () => {
    await ok(['run', '-d', '--name', `${P}-pin`, '-e', 'constraint:node==node-3', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-pin`)).toBe('node-3');
    const env = await ok(['inspect', '-f', '{{json .Config.Env}}', `${P}-pin`]);
    expect(env).not.toContain('constraint:');
    const bad = await docker(['run', '-d', '-e', 'constraint:node==nowhere', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('Unable to find a node that satisfies the following conditions');
    expect(bad.stderr).toContain('[node==nowhere]');
  });

  test('concurrent creates on one host port land on three nodes; a fourth has no node left', async () => {
    const port = String(20000 + Math.floor(Math.random() * 20000));
    const runs = await Promise.all([1, 2, 3].map((i) => docker(['run', '-d', '--name', `${P}-port${i}`, '-p', `${port}:80`, 'busybox', 'httpd', '-f'])));
    for (const r of runs) expect(r.code).toBe(0);
    const nodes = await Promise.all([1, 2, 3].map((i) => nodeOf(`${P}-port${i}`)));
    expect(new Set(nodes).size).toBe(3);
    const fourth = await docker(['run', '-d', '-p', `${port}:80`, 'busybox', 'httpd', '-f']);
    expect(fourth.code).toBe(125);
    expect(fourth.stderr).toContain(`port ${port} (Bridge mode)`);
  });

  test('an image only in the registry is pulled by the chosen engine on create', async () => {
    const r = await docker(['run', '--rm', `${REGISTRY}/busybox`, 'echo', 'pulled on create']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('pulled on create\n');
  });
});

describe('more container commands', () => {
  test('exec -d runs in the background', async () => {
    await ok(['run', '-d', '--name', `${P}-exd`, 'busybox', 'sleep', '600']);
    expect(await ok(['exec', '-d', `${P}-exd`, 'touch', '/detached'])).toBe('');
    await waitFor('detached exec', async () => ((await docker(['exec', `${P}-exd`, 'ls', '/detached'])).code === 0 ? true : undefined), 5000, 200);
  });

  test('networks and volumes named <node>/<name> are pinned to that node', async () => {
    const id = (await ok(['network', 'create', `node-2/${P}-pnet`])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await ok(['network', 'ls', '--filter', `name=${P}-pnet`, '--format', '{{.Name}}'])).toBe(`node-2/${P}-pnet\n`);
    expect((await ok(['network', 'inspect', '-f', '{{.Id}}', `node-2/${P}-pnet`])).trim()).toBe(id);
    expect((await ok(['network', 'rm', `node-2/${P}-pnet`])).trim()).toBe(`node-2/${P}-pnet`);
    await ok(['volume', 'create', `node-1/${P}-pvol`]);
    expect(await ok(['volume', 'ls', '--filter', `name=${P}-pvol`, '--format', '{{.Name}}'])).toBe(`node-1/${P}-pvol\n`);
    expect((await ok(['volume', 'rm', `node-1/${P}-pvol`])).trim()).toBe(`node-1/${P}-pvol`);
  });
});

describe('images', () => {
  test('images, tag, history, rmi', async () => {
    const list = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(list).toContain('busybox:latest');
    await ok(['tag', 'busybox', `${P}-tagged:1`]);
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(`${P}-tagged:1`);
    const history = await ok(['history', `${P}-tagged:1`]);
    expect(history).toContain('IMAGE');
    const rmi = await ok(['rmi', `${P}-tagged:1`]);
    expect(rmi).toContain(`Untagged: ${P}-tagged:1`);
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).not.toContain(`${P}-tagged:1`);
    const missing = await docker(['rmi', `${P}-never`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`No such image: ${P}-never`);
  });

  test('save and load', async () => {
    await ok(['tag', 'busybox', `${P}-saved:1`]);
    await ok(['save', '-o', join(work, 'img.tar'), `${P}-saved:1`]);
    await ok(['rmi', `${P}-saved:1`]);
    const load = await ok(['load', '-i', join(work, 'img.tar')], { timeoutS: 120 });
    expect(load).toContain(`Loaded image: ${P}-saved:1`);
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(`${P}-saved:1`);
    await ok(['rmi', `${P}-saved:1`]);
  });

  test('import a tarball as an image on every node', async () => {
    await sh(['tar', 'cf', join(work, 'rootfs.tar'), '-C', work, 'hello.txt']);
    const out = await ok(['import', join(work, 'rootfs.tar'), `${P}-imported:1`], { timeoutS: 120 });
    expect(out).toMatch(/sha256:[0-9a-f]{64}/);
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).toContain(`${P}-imported:1`);
    await ok(['rmi', `${P}-imported:1`]);
  });

  test('build a FROM busybox Dockerfile on one node, then run it', async () => {
    const ctx = join(work, 'build');
    await sh(['mkdir', '-p', ctx]);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo built > /built.txt\nCMD ["cat", "/built.txt"]\n');
    const b = await docker(['build', '-t', `${P}-built:1`, ctx], { timeoutS: 180 });
    expect(b.code).toBe(0);
    expect(b.stdout).toContain(`Successfully tagged ${P}-built:1`);
    const r = await docker(['run', '--rm', `${P}-built:1`]);
    expect(r.stdout).toBe('built\n');
  });

  test('push to the testbed registry, then pull shows per-node progress', async () => {
    await ok(['tag', 'busybox', `${REGISTRY}/${P}-pushed:1`]);
    const push = await docker(['push', `${REGISTRY}/${P}-pushed:1`], { timeoutS: 120 });
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/1: digest: sha256:[0-9a-f]{64}/);
    await ok(['rmi', `${REGISTRY}/${P}-pushed:1`]);
    const r = await docker(['pull', `${REGISTRY}/${P}-pushed:1`], { timeoutS: 180 });
    expect(r.code).toBe(0);
    for (const h of hosts) expect(r.stdout).toContain(`${h.name}: Pulling ${REGISTRY}/${P}-pushed:1... : Status: Downloaded newer image`);
    const images = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(images).toContain(`${REGISTRY}/${P}-pushed:1`);
  });
});

describe('networks and volumes', () => {
  test('network create, ls, inspect, connect, disconnect, rm', async () => {
    const net = `${P}-netw`;
    const id = (await ok(['network', 'create', net])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const ls = await ok(['network', 'ls', '--format', '{{.Name}}']);
    expect(ls).toMatch(new RegExp(`node-\\d+/${net}`));
    const node = ls.split('\n').find((l) => l.endsWith(`/${net}`))!.split('/')[0];
    expect((await ok(['network', 'inspect', '-f', '{{.Name}} {{.Driver}}', net])).trim()).toBe(`${net} bridge`);
    // connect a container that lives on the network's node
    await ok(['run', '-d', '--name', `${P}-onnet`, '-e', `constraint:node==${node}`, 'busybox', 'sleep', '600']);
    await ok(['network', 'connect', net, `${P}-onnet`]);
    expect(await ok(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', `${P}-onnet`])).toContain(net);
    await ok(['network', 'disconnect', net, `${P}-onnet`]);
    expect(await ok(['inspect', '-f', '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}', `${P}-onnet`])).not.toContain(net);
    await ok(['rm', '-f', `${P}-onnet`]);
    expect((await ok(['network', 'rm', net])).trim()).toBe(net);
    expect(await ok(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(net);
  });

  test('volume create (every node), ls, inspect, rm', async () => {
    const vol = `${P}-vol`;
    expect((await ok(['volume', 'create', vol])).trim()).toBe(vol);
    const ls = await ok(['volume', 'ls', '--format', '{{.Name}}']);
    for (const h of hosts) expect(ls).toContain(`${h.name}/${vol}`);
    expect((await ok(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}}', vol])).trim()).toBe(`${vol} local`);
    expect((await ok(['volume', 'rm', vol])).trim()).toBe(vol);
    expect(await ok(['volume', 'ls', '--format', '{{.Name}}'])).not.toContain(vol);
  });
});

describe('events', () => {
  test('the live stream shows engine events with the node name', async () => {
    // The stream never ends by itself: timeout(1) ends it after 8 s, by then the container is gone.
    const events = sh(['docker', '-H', host, 'events', '--format', '{{.Type}} {{.Action}} {{index .Actor.Attributes "node.name"}} {{.Actor.Attributes.name}}'], { timeoutS: 8 });
    await Bun.sleep(1000);
    await ok(['run', '--rm', '--name', `${P}-ev`, 'busybox', 'true']);
    const out = (await events).stdout;
    const node = out.match(new RegExp(`container create (node-\\d+) ${P}-ev`))?.[1];
    expect(node).toBeDefined();
    expect(out).toContain(`container start ${node} ${P}-ev`);
    expect(out).toContain(`container die ${node} ${P}-ev`);
    expect(out).toContain(`container destroy ${node} ${P}-ev`);
  }, 30_000);
});

describe('errors', () => {
  test('unknown container → "No such container", bad JSON → 400, bad filters → 400; the manager keeps serving', async () => {
    const r = await docker(['logs', `${P}-nope`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`No such container: ${P}-nope`);
    const base = host.replace('tcp://', 'http://');
    const bad = await fetch(`${base}/v1.41/containers/create`, { method: 'POST', body: '{"Image": ', headers: { 'Content-Type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).message).toContain('invalid JSON');
    const filt = await fetch(`${base}/v1.41/containers/json?filters=%7Bnot-json`);
    expect(filt.status).toBe(400);
    const unknown = await fetch(`${base}/v1.41/containers/${P}-nope/json`);
    expect(unknown.status).toBe(404);
    const route = await fetch(`${base}/v1.41/services`);
    expect(route.status).toBe(404);
    const psBad = await docker(['ps', '--filter', 'bogus=1']);
    expect(psBad.code).not.toBe(0);
    expect(psBad.stderr).toContain("invalid filter 'bogus'");
    expect((await ok(['version', '--format', '{{.Server.Version}}'])).trim()).toBe('swarm/1.2.9');
  });
});

describe('engine health', () => {
  test('a host whose dockerd is killed goes Unhealthy in docker info, and Healthy again after restart', async () => {
    const victim = hosts[2]!;
    await killEngine(victim.index);
    const block = (text: string) => text.slice(text.indexOf(`${victim.name}: ${victim.addr}`)).split('\n').slice(0, 4).join('\n');
    await waitFor('Unhealthy', async () => (block(await infoText()).includes('Status: Unhealthy') ? true : undefined), 60_000, 500);
    // nothing gets scheduled on it meanwhile
    const id = (await ok(['run', '-d', '--name', `${P}-whiledown`, 'busybox', 'sleep', '60'])).trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await nodeOf(`${P}-whiledown`)).not.toBe(victim.name);
    await ok(['rm', '-f', `${P}-whiledown`]);
    await startEngine(victim.index);
    await waitFor('Healthy again', async () => (block(await infoText()).includes('Status: Healthy') ? true : undefined), 60_000, 500);
    expect(manager.log()).toContain('Engine came back to life');
  }, 200_000);
});
