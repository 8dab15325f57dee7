/**
 * Disk usage, prune and stats over the cluster (beyond v1, which answered df and prune with 404),
 * through the manager with the real docker CLI v28, on a mixed cluster: node-1 dockerd 20.10 (API
 * 1.41), node-2 dockerd 26 refusing API < 1.44 (as Docker Engine 29). After each prune, each engine
 * is asked directly whether anything is left to prune.
 *
 *   TESTBED_ID=5 npm run build && TESTBED_ID=5 node_modules/.bin/bun test --timeout 300000 test/integration/prune-df-stats.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, privateDockerConfig, run, testbedDown, testbedUp, type CliResult, type TestbedHost } from '../helpers/testbed';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let work = '';
/** A DOCKER_CONFIG without CLI plugins: `docker builder prune` is then the CLI's own (POST /build/prune). */
let plainConfig = '';
let hosts: TestbedHost[] = [];
const P = `pd${Date.now().toString(36)}`;
const NODES = ['node-1', 'node-2'];

function docker(args: string[], opts: { timeoutS?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return run(['docker', '-H', host, ...args], { timeoutMs: (opts.timeoutS ?? 90) * 1000, env: { DOCKER_CONFIG: plainConfig, ...opts.env } });
}

async function ok(args: string[], opts: { timeoutS?: number; env?: Record<string, string> } = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The docker CLI straight at one engine (not through the manager). */
async function direct(node: string, args: string[]): Promise<string> {
  const h = hosts.find((x) => x.name === node)!;
  const r = await run(['docker', '-H', `tcp://${h.addr}`, ...args], { timeoutMs: 90_000, env: { DOCKER_CONFIG: plainConfig } });
  if (r.code !== 0) throw new Error(`docker -H ${h.addr} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** One engine's own /system/df, at its own version. */
async function engineDf(node: string): Promise<{ BuildCache?: unknown[] | null }> {
  const h = hosts.find((x) => x.name === node)!;
  const api = h.engine === '26' ? '1.45' : '1.41';
  return (await (await fetch(`http://${h.addr}/v${api}/system/df`)).json()) as { BuildCache?: unknown[] | null };
}

const lines = (s: string) => s.split('\n').map((l) => l.trim()).filter(Boolean);

/** `Total reclaimed space: 1.2MB` in bytes (go-units decimal sizes). */
function reclaimed(out: string): number {
  const m = /Total reclaimed space: ([\d.]+)([kMGT]?B)/.exec(out);
  if (!m) throw new Error(`no "Total reclaimed space" in:\n${out}`);
  const scale: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  return Number(m[1]) * scale[m[2]!]!;
}

/** The entries the CLI printed under `heading` (up to the next blank line). */
function section(out: string, heading: string): string[] {
  const all = out.split('\n');
  const i = all.findIndex((l) => l.trim() === heading);
  if (i < 0) return [];
  const out2: string[] = [];
  for (const l of all.slice(i + 1)) {
    if (!l.trim()) break;
    out2.push(l.trim());
  }
  return out2;
}

/** Imports a layer of `bytes` random bytes as `tag` on every node (through the manager, which fans out). */
async function importImage(tag: string, bytes: number, label: string): Promise<void> {
  const dir = mkdtempSync(join(work, 'img-'));
  writeFileSync(join(dir, 'blob'), randomBytes(bytes));
  const tar = join(work, `${tag.replace(/[:/]/g, '_')}-${Date.now()}.tar`);
  const t = await run(['tar', '-C', dir, '-cf', tar, 'blob']);
  if (t.code !== 0) throw new Error(`tar failed: ${t.stderr}`);
  await ok(['import', '-c', `LABEL ${label}`, tar, tag]);
}

/** A stopped container on `node` with `labels`. */
async function stopped(node: string, name: string, labels: string[] = []): Promise<string> {
  return (await ok(['create', '--name', name, '-e', `constraint:node==${node}`, ...labels.flatMap((l) => ['-l', l]), 'busybox', 'true'])).trim();
}

const stoppedOn = async (node: string) => lines(await direct(node, ['ps', '-aq', '--no-trunc', '--filter', 'status=exited', '--filter', 'status=created']));

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-prune-it-'));
  plainConfig = join(work, 'docker-config');
  mkdirSync(plainConfig);
  writeFileSync(join(plainConfig, 'config.json'), '{}\n');
  hosts = await testbedUp(2, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  // A high failure retry keeps a killed engine Healthy (so it is asked, and fails) in the last test.
  manager = bin.start(['manage', '-H', host, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', '--engine-failure-retry', '1000', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitFor('2 healthy nodes', async () => ((await docker(['info'], { timeoutS: 20 })).stdout.match(/Status: Healthy/g)?.length === 2 ? true : undefined), 60_000, 300);

  // Running containers for stats, one per node.
  for (const [i, node] of NODES.entries()) await ok(['run', '-d', '--name', `${P}-r${i + 1}`, '-e', `constraint:node==${node}`, 'busybox', 'sleep', '900']);
  // Build cache on both engines: a BuildKit build straight at each (buildx, docker driver).
  const ctxDir = join(work, 'build');
  mkdirSync(ctxDir);
  writeFileSync(join(ctxDir, 'msg'), randomBytes(20_000).toString('hex'));
  writeFileSync(join(ctxDir, 'Dockerfile'), 'FROM busybox\nCOPY msg /msg\nRUN wc -c /msg > /size\n');
  for (const h of hosts) {
    const r = await run(['docker', '-H', `tcp://${h.addr}`, 'build', '-q', '-t', `${P}-built:1`, ctxDir], { timeoutMs: 180_000, env: { DOCKER_CONFIG: privateDockerConfig() } });
    if (r.code !== 0) throw new Error(`build on ${h.name} failed: ${r.stderr}`);
  }
}, 600_000);

afterAll(async () => {
  await manager?.stop();
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

describe('docker stats over the cluster', () => {
  test('stats --no-stream shows the running containers of both nodes, named <node>/<name>, with figures', async () => {
    const out = await ok(['stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.PIDs}}'], { timeoutS: 60 });
    const rows = lines(out);
    const running = lines(await ok(['ps', '-q']));
    expect(rows.length).toBe(running.length);
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^node-1/${P}-r1\\|[\\d.]+\\w?i?B / [\\d.]+\\w?i?B\\|1$`)));
    expect(rows).toContainEqual(expect.stringMatching(new RegExp(`^node-2/${P}-r2\\|[\\d.]+\\w?i?B / [\\d.]+\\w?i?B\\|1$`)));
  });

  test('live docker stats shows both nodes, and a container started meanwhile on the other node joins', async () => {
    const live = run(['docker', '-H', host, 'stats', '--format', '{{.Name}}|{{.PIDs}}'], { timeoutMs: 12_000, env: { DOCKER_CONFIG: plainConfig } });
    await Bun.sleep(4000);
    await ok(['run', '-d', '--name', `${P}-late`, '-e', 'constraint:node==node-2', 'busybox', 'sleep', '900']);
    const r = await live;
    expect(r.timedOut).toBe(true);
    // One frame per tick, each starting with the cursor-home sequence.
    const frames = r.stdout.split('\x1b[H').map((f) => lines(f.replace(/\x1b\[[JK]/g, '')));
    const withFigures = (f: string[], name: string) => f.some((l) => new RegExp(`^${name}\\|1$`).test(l));
    expect(frames.some((f) => withFigures(f, `node-1/${P}-r1`) && withFigures(f, `node-2/${P}-r2`))).toBe(true);
    expect(frames.some((f) => withFigures(f, `node-2/${P}-late`) && withFigures(f, `node-1/${P}-r1`))).toBe(true);
    await ok(['rm', '-f', `${P}-late`]);
  }, 60_000);
});

describe('system df over the cluster', () => {
  beforeAll(async () => {
    for (const node of NODES) await stopped(node, `${P}-df-${node}`);
    await ok(['volume', 'create', `${P}-dfvol`]);
  }, 120_000);

  test('the summary counts are the sums of both engines', async () => {
    const table = (out: string) => new Map(lines(out).map((l) => l.split('\t')).map(([type, total, active]) => [type!, [Number(total), Number(active)]]));
    const format = ['system', 'df', '--format', '{{.Type}}\t{{.TotalCount}}\t{{.Active}}'];
    const mine = table(await ok(format));
    const [a, b] = await Promise.all(NODES.map(async (n) => table(await direct(n, format))));
    expect([...mine.keys()].sort()).toEqual(['Build Cache', 'Containers', 'Images', 'Local Volumes']);
    for (const [type, [total, active]] of mine) {
      expect({ type, total, active }).toEqual({ type, total: a!.get(type)![0]! + b!.get(type)![0]!, active: a!.get(type)![1]! + b!.get(type)![1]! });
    }
    expect(mine.get('Containers')![0]).toBeGreaterThanOrEqual(4);
    expect(mine.get('Build Cache')![0]).toBeGreaterThan(0);
  });

  test('system df -v lists both nodes\' images, containers, volumes and build cache', async () => {
    const out = await ok(['system', 'df', '-v']);
    for (const node of NODES) {
      expect(out).toMatch(new RegExp(`^${node}/busybox\\s+latest\\s`, 'm'));
      expect(out).toMatch(new RegExp(`^${node}/${P}-built\\s+1\\s`, 'm'));
      expect(out).toMatch(new RegExp(`\\s${node}/${P}-df-${node}$`, 'm'));
      expect(out).toMatch(new RegExp(`^${node}/${P}-dfvol\\s`, 'm'));
    }
    expect(out).toMatch(new RegExp(`\\snode-1/${P}-r1$`, 'm'));
    expect(out).toMatch(new RegExp(`\\snode-2/${P}-r2$`, 'm'));
    const all = out.split('\n');
    const header = all.findIndex((l) => /^CACHE ID\s/.test(l));
    expect(header).toBeGreaterThan(0);
    const cacheRows = lines(all.slice(header + 1).join('\n'));
    const engines = await Promise.all(NODES.map(engineDf));
    expect(cacheRows.length).toBe(engines.reduce((n, d) => n + (d.BuildCache?.length ?? 0), 0));
  });
});

describe('prune over the cluster', () => {
  test('container prune: until and label filters reach each engine; deleted containers listed as <node>/<id>; nothing left', async () => {
    const drop: string[] = [];
    for (const node of NODES) {
      drop.push(await stopped(node, `${P}-drop-${node}`, [`${P}=drop`]));
      await stopped(node, `${P}-keep-${node}`, [`${P}=keep`]);
    }
    // Created seconds ago: an `until=1h` prune must spare them (if the filter were dropped, it would not).
    const none = await ok(['container', 'prune', '-f', '--filter', 'until=1h']);
    expect(none).not.toContain('Deleted Containers');
    expect(none).toContain('Total reclaimed space: 0B');
    const byLabel = await ok(['container', 'prune', '-f', '--filter', `label=${P}=drop`]);
    expect(section(byLabel, 'Deleted Containers:').sort()).toEqual([`node-1/${drop[0]}`, `node-2/${drop[1]}`].sort());
    for (const node of NODES) expect((await direct(node, ['ps', '-a', '--format', '{{.Names}}'])).split('\n')).toContain(`${P}-keep-${node}`);
    const rest = await ok(['container', 'prune', '-f']);
    const deleted = section(rest, 'Deleted Containers:');
    for (const node of NODES) expect(deleted.filter((d) => d.startsWith(`${node}/`)).length).toBeGreaterThanOrEqual(2);
    expect(rest).toMatch(/Total reclaimed space: /);
    for (const node of NODES) expect(await stoppedOn(node)).toEqual([]);
    // The manager's cache is already right.
    expect(lines(await ok(['ps', '-a', '--filter', 'status=exited', '--filter', 'status=created', '-q']))).toEqual([]);
  }, 120_000);

  test('image prune: dangling images of both nodes, space summed; -a with a label filter', async () => {
    const tag = `${P}-imp:1`;
    await importImage(tag, 150_000, `${P}img=1`);
    await importImage(tag, 150_000, `${P}img=1`); // the first import is now dangling, on both nodes
    for (const node of NODES) expect(lines(await direct(node, ['images', '-q', '--filter', 'dangling=true'])).length).toBeGreaterThan(0);
    const out = await ok(['image', 'prune', '-f']);
    const deleted = section(out, 'Deleted Images:');
    for (const node of NODES) expect(deleted).toContainEqual(expect.stringMatching(new RegExp(`^deleted: ${node}/sha256:[0-9a-f]{64}$`)));
    // Two 150 kB layers, one per node.
    expect(reclaimed(out)).toBeGreaterThanOrEqual(300_000);
    for (const node of NODES) expect(lines(await direct(node, ['images', '-q', '--filter', 'dangling=true']))).toEqual([]);

    const all = await ok(['image', 'prune', '-a', '-f', '--filter', `label=${P}img=1`]);
    const gone = section(all, 'Deleted Images:');
    for (const node of NODES) expect(gone).toContain(`untagged: ${node}/${tag}`);
    expect(reclaimed(all)).toBeGreaterThanOrEqual(300_000);
    for (const node of NODES) expect(lines(await direct(node, ['images', '-q', '--filter', `label=${P}img=1`]))).toEqual([]);
    // busybox is in use (the running containers): -a spared it, and the manager's list is current.
    const listed = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(listed).not.toContain(`${P}-imp`);
    expect(listed).toContain('busybox:latest');
  }, 180_000);

  test('volume prune: label! reaches each engine; an API 1.41 client prunes named volumes on the API 1.45 engine too', async () => {
    await ok(['volume', 'create', `${P}-vdrop`]);
    await ok(['volume', 'create', '--label', `${P}=keep`, `${P}-vkeep`]);
    for (const node of NODES) {
      await ok(['run', '--rm', '-e', `constraint:node==${node}`, '-v', `${P}-vdrop:/d`, 'busybox', 'sh', '-c', 'head -c 60000 /dev/urandom > /d/x']);
    }
    const out = await ok(['volume', 'prune', '-f', '--filter', `label!=${P}=keep`]);
    const deleted = section(out, 'Deleted Volumes:');
    expect(deleted).toContain(`node-1/${P}-vdrop`);
    expect(deleted).toContain(`node-2/${P}-vdrop`);
    expect(deleted).not.toContain(`node-1/${P}-vkeep`);
    expect(reclaimed(out)).toBeGreaterThanOrEqual(120_000);
    for (const node of NODES) expect(lines(await direct(node, ['volume', 'ls', '-q']))).toContain(`${P}-vkeep`);
    const rest = await ok(['volume', 'prune', '-f']);
    expect(section(rest, 'Deleted Volumes:')).toEqual(expect.arrayContaining([`node-1/${P}-vkeep`, `node-2/${P}-vkeep`]));
    for (const node of NODES) expect(lines(await direct(node, ['volume', 'ls', '-q', '--filter', 'dangling=true']))).toEqual([]);
    expect(lines(await ok(['volume', 'ls', '-q']))).toEqual([]);
  }, 180_000);

  test('volume prune at API 1.45 removes only anonymous volumes, and never a named one, on either engine', async () => {
    await ok(['volume', 'create', `${P}-named`]);
    for (const node of NODES) {
      await ok(['run', '--name', `${P}-anon-${node}`, '-e', `constraint:node==${node}`, '-v', '/data', 'busybox', 'true']);
      await ok(['rm', `${P}-anon-${node}`]); // its anonymous volume stays
    }
    const anon2 = lines(await direct('node-2', ['volume', 'ls', '-q', '--filter', 'dangling=true'])).filter((v) => v !== `${P}-named`);
    expect(anon2.length).toBe(1);
    const out = await ok(['volume', 'prune', '-f'], { env: { DOCKER_API_VERSION: '1.45' } });
    const deleted = section(out, 'Deleted Volumes:');
    expect(deleted).toContain(`node-2/${anon2[0]}`);
    expect(deleted.some((d) => d.endsWith(`/${P}-named`))).toBe(false);
    for (const node of NODES) expect(lines(await direct(node, ['volume', 'ls', '-q']))).toContain(`${P}-named`);
    // dockerd 20.10 does not mark anonymous volumes, so at 1.45 its unused volumes all stay.
    expect(deleted.filter((d) => d.startsWith('node-1/'))).toEqual([]);
    await ok(['volume', 'prune', '-f']);
    for (const node of NODES) expect(lines(await direct(node, ['volume', 'ls', '-q', '--filter', 'dangling=true']))).toEqual([]);
  }, 180_000);

  test('network prune: until filter reaches each engine; local networks listed as <node>/<name>; nothing left', async () => {
    await ok(['network', 'create', `node-1/${P}-n1`]);
    await ok(['network', 'create', `node-2/${P}-n2`]);
    await ok(['network', 'create', '--label', `${P}=x`, `node-2/${P}-n3`]);
    expect(await ok(['network', 'prune', '-f', '--filter', 'until=1h'])).not.toContain('Deleted Networks');
    const byLabel = await ok(['network', 'prune', '-f', '--filter', `label=${P}=x`]);
    expect(section(byLabel, 'Deleted Networks:')).toEqual([`node-2/${P}-n3`]);
    const out = await ok(['network', 'prune', '-f']);
    expect(section(out, 'Deleted Networks:').sort()).toEqual([`node-1/${P}-n1`, `node-2/${P}-n2`]);
    for (const node of NODES) expect(lines(await direct(node, ['network', 'ls', '-q', '--filter', 'type=custom']))).toEqual([]);
    expect(await ok(['network', 'ls', '--format', '{{.Name}}'])).not.toContain(P);
  }, 120_000);

  test('builder prune -a: both engines\' build cache, listed by node, space summed; nothing left', async () => {
    const before = await Promise.all(NODES.map(engineDf));
    for (const d of before) expect(d.BuildCache?.length ?? 0).toBeGreaterThan(0);
    const r = await docker(['builder', 'prune', '-a', '-f']);
    expect(r.code).toBe(0);
    const deleted = section(r.stdout, 'Deleted build cache objects:');
    for (const node of NODES) expect(deleted.some((d) => d.startsWith(`${node}/`))).toBe(true);
    // The 40 kB build context copied once per node.
    expect(reclaimed(r.stdout)).toBeGreaterThanOrEqual(80_000);
    for (const node of NODES) expect((await engineDf(node)).BuildCache ?? []).toEqual([]);
  }, 120_000);

  test('system prune --volumes: every kind on both nodes in one command; nothing left', async () => {
    for (const node of NODES) {
      await stopped(node, `${P}-sys-${node}`);
      await ok(['network', 'create', `${node}/${P}-sysnet`]);
    }
    await ok(['volume', 'create', `${P}-sysvol`]);
    await importImage(`${P}-sys:1`, 50_000, `${P}sys=1`);
    await importImage(`${P}-sys:1`, 50_000, `${P}sys=1`);
    const out = await ok(['system', 'prune', '-f', '--volumes']);
    for (const node of NODES) {
      expect(section(out, 'Deleted Containers:').some((d) => d.startsWith(`${node}/`))).toBe(true);
      expect(section(out, 'Deleted Networks:')).toContain(`${node}/${P}-sysnet`);
      expect(section(out, 'Deleted Volumes:')).toContain(`${node}/${P}-sysvol`);
      expect(section(out, 'Deleted Images:').some((d) => d.startsWith(`deleted: ${node}/sha256:`))).toBe(true);
    }
    expect(reclaimed(out)).toBeGreaterThanOrEqual(100_000);
    for (const node of NODES) {
      expect(await stoppedOn(node)).toEqual([]);
      expect(lines(await direct(node, ['network', 'ls', '-q', '--filter', 'type=custom']))).toEqual([]);
      expect(lines(await direct(node, ['volume', 'ls', '-q', '--filter', 'dangling=true']))).toEqual([]);
      expect(lines(await direct(node, ['images', '-q', '--filter', 'dangling=true']))).toEqual([]);
    }
  }, 180_000);

  test('prune --filter node=node-1 prunes only node-1', async () => {
    for (const node of NODES) await stopped(node, `${P}-nf-${node}`);
    const out = await ok(['container', 'prune', '-f', '--filter', 'node=node-1']);
    expect(section(out, 'Deleted Containers:').map((d) => d.split('/')[0])).toEqual(['node-1']);
    expect(await stoppedOn('node-1')).toEqual([]);
    expect((await stoppedOn('node-2')).length).toBe(1);
  }, 60_000);

  // Last: it kills node-2's engine.
  test('a node that cannot be reached is named: the CLI prints which node failed and what the others did', async () => {
    await stopped('node-1', `${P}-last-node-1`);
    await killEngine(2);
    const r = await docker(['container', 'prune', '-f']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Error response from daemon: container prune failed on node-2: Cannot (connect to the Docker daemon at|reach node) .*node-2/);
    expect(r.stderr).toMatch(/done on node-1: 1 deleted, [\d.]+k?B reclaimed\)/);
    expect(await stoppedOn('node-1')).toEqual([]);
    const df = await docker(['system', 'df']);
    expect(df.code).not.toBe(0);
    expect(df.stderr).toMatch(/disk usage failed on node-2: .*\(answered: node-1\)/);
  }, 120_000);
});
