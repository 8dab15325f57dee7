/**
 * `docker ps` and `docker images` filters and grouping as Swarm v1 answers them (and dockerd's newer
 * ps filters), plus load/pull/push output that clients parse, through the manager with the real
 * docker CLI v28 and Debian's Python SDK (python3-docker 5.0.3), on a mixed cluster: node-1 dockerd
 * 20.10, node-2 dockerd 26 refusing API < 1.44 (as Docker Engine 29).
 *
 *   TESTBED_ID=6 npm run build && TESTBED_ID=6 node_modules/.bin/bun test --timeout 300000 test/integration/v1-lists.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { registryAddr, run, testbedDown, testbedUp, TESTBED_REGISTRY, type CliResult, type TestbedHost } from '../helpers/testbed';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let work = '';
let hosts: TestbedHost[] = [];
let REGISTRY = TESTBED_REGISTRY;
const P = `l${Date.now().toString(36)}`;
/** Debian's interpreter, which has python3-docker 5.0.3 (another python3 on PATH may carry another SDK). */
const PYTHON = '/usr/bin/python3';

function docker(args: string[], timeoutS = 60): Promise<CliResult> {
  return run(['docker', '-H', host, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker'), DOCKER_BUILDKIT: '0' } });
}

async function ok(args: string[], timeoutS = 60): Promise<string> {
  const r = await docker(args, timeoutS);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);
const sorted = (s: string) => lines(s).sort();

/** Runs a Python SDK snippet with `client` connected to the manager; its stdout. */
async function python(code: string): Promise<string> {
  const script = `import docker, json, sys\nclient = docker.DockerClient(base_url=${JSON.stringify(host)}, timeout=120)\n${code}\n`;
  const r = await run([PYTHON, '-c', script], { timeoutMs: 180_000 });
  if (r.code !== 0) throw new Error(`python exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const ids: Record<string, string> = {};

/** `docker run -d` pinned to a node; records the container's ID under `name`. */
async function runOn(node: string, name: string, args: string[]): Promise<void> {
  ids[name] = (await ok(['run', '-d', '--name', `${P}-${name}`, '-e', `constraint:node==${node}`, ...args])).trim();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-lists-it-'));
  hosts = await testbedUp(2, { registry: true, engines: { 2: '26' }, minApi: { 2: '1.44' } });
  REGISTRY = registryAddr() ?? TESTBED_REGISTRY;
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start(['manage', '-H', host, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitFor('2 healthy nodes', async () => ((await docker(['info'], 20)).stdout.match(/Status: Healthy/g)?.length === 2 ? true : undefined), 60_000, 300);

  // node-1: a published web, an exited (3) one, a created one; node-2: one on a network of its own,
  // a task-labelled one, an exited (0) one.
  await ok(['network', 'create', `node-2/${P}-net`]);
  await runOn('node-1', 'web', ['-p', '18081:80', '--expose', '5353/udp', 'busybox', 'sleep', '600']);
  await runOn('node-1', 'exit1', ['busybox', 'sh', '-c', 'exit 3']);
  await runOn('node-2', 'db', ['--net', `${P}-net`, 'busybox', 'sleep', '600']);
  await runOn('node-2', 'task', ['-l', 'com.docker.swarm.task=', 'busybox', 'sleep', '600']);
  await runOn('node-2', 'exit2', ['busybox', 'true']);
  ids.created = (await ok(['create', '--name', `${P}-created`, '-e', 'constraint:node==node-1', 'busybox', 'true'])).trim();
  for (const n of ['exit1', 'exit2']) await ok(['wait', `${P}-${n}`]);
  await waitFor('exited containers in the cache', async () => (lines(await ok(['ps', '-a', '-q', '--filter', 'status=exited'])).length === 2 ? true : undefined), 20_000, 300);
}, 700_000);

afterAll(async () => {
  await manager?.stop();
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

const idsOf = (...names: string[]) => names.map((n) => ids[n]!).sort();

describe('docker ps filters', () => {
  test('status=exited lists exactly the exited containers, without -a; status=running with -a only the running', async () => {
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'status=exited']))).toEqual(idsOf('exit1', 'exit2'));
    expect(sorted(await ok(['ps', '-a', '-q', '--no-trunc', '--filter', 'status=running']))).toEqual(idsOf('web', 'db', 'task'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'status=created']))).toEqual(idsOf('created'));
    expect(sorted(await ok(['ps', '-a', '-q', '--no-trunc', '--filter', 'exited=3']))).toEqual(idsOf('exit1'));
    expect(await ok(['ps', '-q', '--filter', 'exited=3'])).toBe(''); // exited= alone does not imply -a (v1, dockerd)
  });

  test('network=<name> across nodes, <node>/<name>, and a network of one node', async () => {
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'network=bridge']))).toEqual(idsOf('web', 'task'));
    expect(sorted(await ok(['ps', '-a', '-q', '--no-trunc', '--filter', 'network=node-1/bridge']))).toEqual(idsOf('web', 'exit1', 'created'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', `network=${P}-net`]))).toEqual(idsOf('db'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', `network=node-2/${P}-net`]))).toEqual(idsOf('db'));
    expect(await ok(['ps', '-q', '--filter', `network=node-1/${P}-net`])).toBe('');
  });

  test('is-task=true|false follows the com.docker.swarm.task label', async () => {
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'is-task=true']))).toEqual(idsOf('task'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'is-task=false']))).toEqual(idsOf('web', 'db'));
  });

  test('name=^/NAME$ as dockerd matches (the leading /), ^NAME$ as v1, and <node>/<name>', async () => {
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', `name=^/${P}-web$`]))).toEqual(idsOf('web'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', `name=^${P}-web$`]))).toEqual(idsOf('web'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', `name=^node-2/${P}-db$`]))).toEqual(idsOf('db'));
    expect(await ok(['ps', '-q', '--filter', `name=^/${P}-we$`])).toBe('');
    // The CLI's own test for "is this container running": exact name, leading slash.
    expect(await ok(['ps', '--filter', `name=^/${P}-db$`, '--format', '{{.Names}}'])).toBe(`node-2/${P}-db\n`);
  });

  test('publish= and expose= with ports, protocols and ranges', async () => {
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'publish=18081']))).toEqual(idsOf('web'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'publish=18000-18100/tcp']))).toEqual(idsOf('web'));
    expect(await ok(['ps', '-q', '--filter', 'publish=18081/udp'])).toBe('');
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'expose=80']))).toEqual(idsOf('web'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'expose=5353/udp']))).toEqual(idsOf('web'));
    const bad = await docker(['ps', '--filter', 'publish=0.0.0.0:18081']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("filter for 'publish' should not contain ':'");
  });

  test('since= and before= order by creation across nodes', async () => {
    // Created in this order: web, exit1, db, task, exit2, created.
    expect(sorted(await ok(['ps', '-a', '-q', '--no-trunc', '--filter', `since=${P}-db`]))).toEqual(idsOf('task', 'exit2', 'created'));
    expect(sorted(await ok(['ps', '-a', '-q', '--no-trunc', '--filter', `before=node-2/${P}-db`]))).toEqual(idsOf('web', 'exit1'));
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', `since=${P}-web`, '--filter', `before=${ids.exit2!.slice(0, 12)}`]))).toEqual(idsOf('db', 'task'));
    const missing = await docker(['ps', '--filter', `since=${P}-nosuch`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`No such container: ${P}-nosuch`);
  });

  test('label=constructor (an Object prototype key) matches nothing; label=k=v still works', async () => {
    expect(await ok(['ps', '-a', '-q', '--filter', 'label=constructor'])).toBe('');
    expect(await ok(['ps', '-a', '-q', '--filter', 'label=toString'])).toBe('');
    expect(await ok(['images', '-q', '--filter', 'label=constructor'])).toBe('');
    expect(await ok(['network', 'ls', '-q', '--filter', 'label=constructor'])).toBe('');
    expect(await ok(['volume', 'ls', '-q', '--filter', 'label=hasOwnProperty'])).toBe('');
    expect(sorted(await ok(['ps', '-q', '--no-trunc', '--filter', 'label=com.docker.swarm.task']))).toEqual(idsOf('task'));
  });
});

describe('docker images', () => {
  let labelled = '';
  let danglingId = '';

  beforeAll(async () => {
    await ok(['tag', 'busybox', `${P}-img:1`]);
    // Two commits with one tag on node-1: the first loses it and is left dangling.
    danglingId = (await ok(['commit', '--change', 'LABEL tier=web', `${P}-web`, `${P}-labelled:1`])).trim();
    await Bun.sleep(1100); // Created has one-second resolution
    labelled = (await ok(['commit', '--change', 'LABEL tier=web', '--change', 'LABEL v=2', `${P}-web`, `${P}-labelled:1`])).trim();
    await waitFor('images in the cache', async () => ((await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true'])).includes(danglingId) ? true : undefined), 20_000, 300);
  }, 120_000);

  test('an image held by both engines is one line per tag, not one per engine', async () => {
    const all = lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}}']));
    expect(all.filter((l) => l.startsWith('busybox:latest '))).toHaveLength(1);
    expect(all.filter((l) => l.startsWith(`${P}-img:1 `))).toHaveLength(1);
    // Both tags of that one image, from the same entry.
    const bb = all.find((l) => l.startsWith('busybox:latest '))!.split(' ')[1];
    expect(all.find((l) => l.startsWith(`${P}-img:1 `))!.split(' ')[1]).toBe(bb);
  });

  test('dangling=true lists the untagged image; plain docker images leaves it out, as v1', async () => {
    expect(lines(await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=true']))).toEqual([danglingId]);
    expect(await ok(['images', '-q', '--no-trunc'])).not.toContain(danglingId);
    expect(await ok(['images', '-a', '-q', '--no-trunc'])).toContain(danglingId);
    expect(await ok(['images', '-q', '--no-trunc', '--filter', 'dangling=false'])).not.toContain(danglingId);
    const bad = await docker(['images', '--filter', 'dangling=maybe']);
    expect(bad.code).not.toBe(0);
  });

  test('label=, reference=, before=, since= as v1', async () => {
    expect(lines(await ok(['images', '-q', '--no-trunc', '--filter', 'label=tier=web']))).toEqual([labelled]);
    expect(lines(await ok(['images', '-q', '--no-trunc', '--filter', 'label=v']))).toEqual([labelled]);
    expect(lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${P}-*`])).sort()).toEqual([`${P}-img:1`, `${P}-labelled:1`]);
    expect(lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', `${P}-img`]))).toEqual([`${P}-img:1`]);
    expect(lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `since=busybox`])).sort()).toEqual([`${P}-labelled:1`]);
    const before = lines(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `before=${P}-labelled:1`]));
    expect(before).toContain('busybox:latest');
    expect(before).not.toContain(`${P}-labelled:1`);
    const missing = await docker(['images', '--filter', `before=${P}-nosuch`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`Invalid filter: 'type'='before': no such image found: '${P}-nosuch'`);
  });
});

describe('output that clients parse', () => {
  test('docker load prints dockerd\'s "Loaded image: " per node; the Python SDK\'s images.load returns the one image', async () => {
    await ok(['tag', 'busybox', `${P}-saved:1`]);
    await ok(['save', '-o', join(work, 'img.tar'), `${P}-saved:1`]);
    await ok(['rmi', `${P}-saved:1`]);
    const cli = await ok(['load', '-i', join(work, 'img.tar')], 120);
    for (const h of hosts) expect(cli).toContain(`${h.name}: Loaded image: ${P}-saved:1`);
    await ok(['rmi', `${P}-saved:1`]);
    const out = await python(`imgs = client.images.load(open(${JSON.stringify(join(work, 'img.tar'))}, 'rb').read())\nprint(json.dumps([i.tags for i in imgs]))`);
    const images = JSON.parse(out) as string[][];
    expect(images).toHaveLength(1); // dockerd's answer: one image, not one per node
    expect(images[0]).toContain(`${P}-saved:1`);
    // The raw stream: dockerd's text, the node in id.
    const raw = await python(
      `for c in client.api.load_image(open(${JSON.stringify(join(work, 'img.tar'))}, 'rb').read()):\n  print(json.dumps(c))`,
    );
    const msgs = lines(raw).map((l) => JSON.parse(l) as { stream?: string; status?: string; id?: string });
    expect(msgs.filter((m) => m.stream !== undefined).map((m) => m.stream)).toEqual([`Loaded image: ${P}-saved:1\n`]);
    expect([...new Set(msgs.map((m) => m.id))].sort()).toEqual(hosts.map((h) => h.name).sort());
    expect(msgs.filter((m) => m.status === `Loaded image: ${P}-saved:1`)).toHaveLength(hosts.length - 1);
  }, 240_000);

  test('Python SDK pull and push through the manager', async () => {
    const repo = `${REGISTRY}/${P}-sdk`;
    await ok(['tag', 'busybox', `${repo}:1`]);
    const push = await python(`print(json.dumps([e for e in client.api.push(${JSON.stringify(repo)}, tag='1', stream=True, decode=True)]))`);
    const events = JSON.parse(push) as { aux?: { Digest?: string }; error?: string }[];
    expect(events.some((e) => e.error)).toBe(false);
    // compose v1 reads the digest from the aux message.
    expect(events.find((e) => e.aux?.Digest)?.aux?.Digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    await ok(['rmi', `${repo}:1`]);
    const pulled = await python(`img = client.images.pull(${JSON.stringify(repo)}, tag='1')\nprint(json.dumps(img.tags))`);
    expect(JSON.parse(pulled)).toContain(`${repo}:1`);
    const onNodes = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${repo}:1`]);
    expect(lines(onNodes)).toEqual([`${repo}:1`]);
  }, 240_000);
});
