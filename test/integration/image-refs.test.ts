/**
 * Image references routed to the engines holding them (scheduler/reference.ts), through the manager
 * with the real docker CLI v28, on a mixed cluster: node-1 dockerd 20.10, node-2 dockerd 26 refusing
 * API < 1.44. A reference without a tag goes to an engine holding `:latest` before one holding only
 * another tag of the repository (which v1 also counts as holding it, and may ask first).
 *
 *   TESTBED_ID=5 npm run build && TESTBED_ID=5 node_modules/.bin/bun test --timeout 300000 test/integration/image-refs.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { dockerCli, testbedDown, testbedUp, waitForHealthyNodes, type CliResult, type TestbedHost } from '../helpers/testbed';

let bin: SwarmBinary;
let manager: RunningSwarm;
let host = '';
let hosts: TestbedHost[] = [];
const P = `r${Date.now().toString(36)}`;

const docker = (args: string[]): Promise<CliResult> => dockerCli(host, args);

async function ok(args: string[], on = host): Promise<string> {
  const r = await dockerCli(on, args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

beforeAll(async () => {
  hosts = await testbedUp(2, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start(['manage', '-H', host, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitForHealthyNodes(host, 2);
  // Tagged on the engines themselves: `app` is only :7 on node-1 (asked first) and :latest on node-2;
  // `only7` is :7 on node-1.
  await ok(['tag', 'busybox', `${P}-app:7`], hosts[0]!.addr);
  await ok(['tag', 'busybox', `${P}-app:latest`], hosts[1]!.addr);
  await ok(['tag', 'busybox', `${P}-only7:7`], hosts[0]!.addr);
  await waitFor('the tags in the manager', async () => {
    const tags = await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    return [`${P}-app:latest`, `${P}-app:7`, `${P}-only7:7`].every((t) => tags.includes(t)) ? true : undefined;
  }, 30_000, 300);
}, 300_000);

afterAll(async () => {
  await manager?.stop();
  bin?.cleanup();
  await testbedDown().catch(() => undefined);
});

describe('image references', () => {
  test('an untagged reference is answered by the engine holding :latest (node-2 answers with its own tags)', async () => {
    const tags = JSON.parse(await ok(['image', 'inspect', '-f', '{{json .RepoTags}}', `${P}-app`])) as string[];
    expect(tags).toContain(`${P}-app:latest`);
    expect(tags).not.toContain(`${P}-app:7`);
    const seven = JSON.parse(await ok(['image', 'inspect', '-f', '{{json .RepoTags}}', `${P}-app:7`])) as string[];
    expect(seven).toContain(`${P}-app:7`);
  });

  test('docker history and docker save of the untagged name work although node-1 holds only :7', async () => {
    expect(await ok(['history', '-q', `${P}-app`])).not.toBe('');
    const out = join(mkdtempSync(join(tmpdir(), 'swarm-refs-it-')), 'app.tar');
    const save = await docker(['save', '-o', out, `${P}-app`]);
    expect([save.code, save.stderr]).toEqual([0, '']);
    expect(statSync(out).size).toBeGreaterThan(0);
    rmSync(dirname(out), { recursive: true, force: true });
  });

  test('a repository held only under another tag: the engine says what it reads the name as', async () => {
    const r = await docker(['image', 'inspect', `${P}-only7`]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`No such image: ${P}-only7`);
    expect(await ok(['image', 'inspect', '-f', '{{.Id}}', `${P}-only7:7`])).toContain('sha256:');
  });

  test('an image ID prefix of 3 characters names it; rmi of the untagged name removes :latest and leaves :7', async () => {
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', `${P}-app`])).trim().replace(/^sha256:/, '');
    expect((await ok(['image', 'inspect', '-f', '{{.Id}}', id.slice(0, 3)])).trim()).toBe(`sha256:${id}`);
    const rmi = await ok(['rmi', `${P}-app`]);
    expect(rmi).toContain(`Untagged: ${P}-app:latest`);
    expect(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${P}-app`], hosts[0]!.addr)).toContain(`${P}-app:7`);
    for (const t of [`${P}-app:7`, `${P}-only7:7`]) await ok(['rmi', t], hosts[0]!.addr);
  });
});
