/**
 * arm64 without an arm64 machine. dist/swarm-linux-arm64 (SWARM_TARGET=linux-arm64 npm run build) runs
 * under qemu-user (`qemu-aarch64-static -L <Debian's arm64 libc6>`, no binfmt registration needed): its
 * --version, --help and list, and as the manager of the real amd64 engines of a mixed test bed driven
 * by the docker CLI. Then the arm64 images: the plain one run in a container through a bind-mounted
 * qemu, the small one (whose loader must execute the unpacked binary, which needs binfmt_misc: a
 * private instance in a user namespace), and the two-platform image index pushed to the test bed's
 * registry and pulled by an amd64 engine. Skipped, with the reason printed, where qemu cannot run.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';
import { freePort, waitFor } from '../helpers/swarm-bin';
import { dockerCli, run, testbedDown, testbedUp, TESTBED_REGISTRY, type CliResult, type TestbedHost } from '../helpers/testbed';

const REPO = resolve(import.meta.dir, '../..');
const ARM64 = join(REPO, 'dist/swarm-linux-arm64');
const QEMU = Bun.which('qemu-aarch64-static');
/** aarch64 ELF files run by qemu: the registration Debian's qemu-user-static ships, with the emulator opened now (F). */
const BINFMT = ':qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:QEMU:OF';

/** Why qemu cannot run arm64 binaries here, or '' if it can. */
function qemuMissing(): string {
  if (!QEMU) return 'qemu-aarch64-static is not installed (Debian package qemu-user-static, see scripts/install.sh)';
  const r = Bun.spawnSync([QEMU, '--version'], { stdout: 'pipe', stderr: 'pipe' });
  return r.exitCode === 0 ? '' : `qemu-aarch64-static does not run: ${r.stderr.toString().trim()}`;
}

/** Shell words that run the rest of a command line in a user namespace with its own binfmt_misc for aarch64. */
function withBinfmt(command: string): string[] {
  const register = BINFMT.replace('QEMU', QEMU ?? '');
  return ['unshare', '--user', '--map-root-user', '--mount', 'sh', '-c', `mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && printf '%s' '${register}' > /proc/sys/fs/binfmt_misc/register && exec ${command}`];
}

/** Why binfmt_misc cannot be had privately here (kernels before 6.7 have one instance per machine), or ''. */
function binfmtMissing(): string {
  if (!QEMU) return 'no qemu';
  const r = Bun.spawnSync(withBinfmt('true'), { stdout: 'pipe', stderr: 'pipe' });
  return r.exitCode === 0 ? '' : `no private binfmt_misc in a user namespace: ${r.stderr.toString().trim()}`;
}

const noQemu = qemuMissing();
if (noQemu) console.warn(`arm64 tests skipped: ${noQemu}`);
const noBinfmt = noQemu || binfmtMissing();
if (!noQemu && noBinfmt) console.warn(`arm64 small image test skipped: ${noBinfmt}`);

let hosts: TestbedHost[] = [];
let h1 = '';
let work = '';
let sysroot = '';
let manager: Subprocess | undefined;

function docker(addr: string, args: string[], timeoutS = 60): Promise<CliResult> {
  return dockerCli(addr, args, { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(addr: string, args: string[], timeoutS = 60): Promise<string> {
  const r = await docker(addr, args, timeoutS);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function script(args: string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<string> {
  const r = await run(args, { timeoutMs, env: { DOCKER_CONFIG: join(work, '.docker'), ...env } });
  if (r.code !== 0) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The arm64 binary under qemu, with Debian's arm64 loader and libraries. */
function arm64(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return run([QEMU!, '-L', sysroot, ARM64, ...args], { timeoutMs, env: { FORCE_COLOR: '0' } });
}

describe.skipIf(!!noQemu)('arm64 under qemu-user', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'swarm-arm64-it-'));
    await script(['bash', '-c', `cd '${REPO}' && node_modules/.bin/bun scripts/build.ts`], { SWARM_TARGET: 'linux-arm64' });
    sysroot = (await script(['bash', join(REPO, 'scripts/image.sh'), 'sysroot', '--arch', 'arm64'])).trim();
    hosts = await testbedUp(3, { engines: { 2: '26' }, minApi: { 2: '1.44' }, registry: true });
    h1 = hosts[0]!.addr;
  }, 600_000);

  afterAll(async () => {
    manager?.kill('SIGKILL');
    await testbedDown();
    rmSync(work, { recursive: true, force: true });
  }, 200_000);

  test('npm run build can make an aarch64 executable; it answers --version, --help and list', async () => {
    const kind = await run(['file', '-b', ARM64]);
    expect(kind.stdout).toContain('ARM aarch64');
    expect(kind.stdout).toContain('interpreter /lib/ld-linux-aarch64.so.1');
    const version = await arm64(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^swarm version \d+\.\d+\.\d+ \([0-9a-f]+\)\n$/);
    const help = await arm64(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('linux-arm64 node-');
    expect(help.stdout).toContain('COMMANDS');
    const list = await arm64(['list', 'nodes://10.0.0.1:2375,10.0.0.[2:3]:2375']);
    expect(list.code).toBe(0);
    expect(list.stdout).toBe('10.0.0.1:2375\n10.0.0.2:2375\n10.0.0.3:2375\n');
  }, 120_000);

  test('an arm64 manager drives the amd64 test-bed engines through the docker CLI', async () => {
    const port = await freePort('127.0.0.1');
    manager = Bun.spawn(
      [QEMU!, '-L', sysroot, ARM64, 'manage', '-H', `tcp://127.0.0.1:${port}`, '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`],
      { stdout: 'ignore', stderr: Bun.file(join(work, 'manager.log')), stdin: 'ignore' },
    );
    const addr = `127.0.0.1:${port}`;
    const info = await waitFor(
      '3 healthy nodes',
      async () => {
        const r = await docker(addr, ['info'], 20);
        return r.stdout.match(/Status: Healthy/g)?.length === 3 ? r.stdout : undefined;
      },
      90_000,
      500,
    );
    expect(info).toContain('Nodes: 3');
    for (const h of hosts) expect(info).toContain(`${h.name}: ${h.addr}`);
    expect((await ok(addr, ['version', '--format', '{{.Server.Os}}/{{.Server.Arch}}'])).trim()).toBe('linux/arm64');
    const hi = await docker(addr, ['run', '--rm', 'busybox', 'echo', 'hi'], 60);
    expect(hi.stdout.trim()).toBe('hi');
    // Placed on every kind of engine, dockerd 26 with minimum API 1.44 included.
    const names = [];
    for (let i = 0; i < 3; i++) names.push((await ok(addr, ['run', '-d', 'busybox', 'sleep', '60'])).trim());
    const nodes = await ok(addr, ['ps', '--format', '{{.Names}}']);
    for (const h of hosts) expect(nodes).toContain(`${h.name}/`);
    await ok(addr, ['rm', '-f', ...names]);
    manager.kill('SIGTERM');
    expect(await manager.exited).toBe(0);
    manager = undefined;
  }, 180_000);

  test('the arm64 image: linux/arm64, Debian arm64 loader and libraries, runs in a container through qemu', async () => {
    await script(['bash', join(REPO, 'scripts/image.sh'), 'build', '--arch', 'arm64', '-t', 'swarm:it-arm64'], { DOCKER_HOST: `tcp://${h1}` });
    expect((await ok(h1, ['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', 'swarm:it-arm64'])).trim()).toBe('linux/arm64');
    const id = (await ok(h1, ['create', 'swarm:it-arm64'])).trim();
    const files = (await script(['bash', '-c', `docker -H tcp://${h1} export ${id} | tar -t`])).split('\n');
    await ok(h1, ['rm', id]);
    for (const f of ['swarm', 'lib/ld-linux-aarch64.so.1', 'lib/aarch64-linux-gnu/libc.so.6', 'etc/ssl/certs/ca-certificates.crt']) expect(files).toContain(f);
    const r = await docker(h1, ['run', '--rm', '-v', `${QEMU}:/qemu:ro`, '--entrypoint', '/qemu', 'swarm:it-arm64', '/swarm', 'list', 'nodes://10.0.0.1:2375']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('10.0.0.1:2375\n');
  }, 300_000);

  test.skipIf(!!noBinfmt)('the small arm64 image: its loader unpacks and executes the arm64 binary', async () => {
    await script(['bash', join(REPO, 'scripts/image.sh'), 'build', '--small', '--arch', 'arm64', '-t', 'swarm:it-arm64-small'], { DOCKER_HOST: `tcp://${h1}`, SWARM_ZSTD_LEVEL: '3' });
    expect((await ok(h1, ['image', 'inspect', '-f', '{{.Architecture}}', 'swarm:it-arm64-small'])).trim()).toBe('arm64');
    const id = (await ok(h1, ['create', 'swarm:it-arm64-small'])).trim();
    const file = join(work, 'swarm-arm64-small');
    await ok(h1, ['cp', `${id}:/swarm`, file]);
    await ok(h1, ['rm', id]);
    expect((await run(['file', '-b', file])).stdout).toContain('ARM aarch64, version 1 (GNU/Linux), statically linked');
    const r = await run(withBinfmt(`${file} list nodes://10.0.0.1:2375,10.0.0.2:2375`), { env: { QEMU_LD_PREFIX: sysroot } });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('10.0.0.1:2375\n10.0.0.2:2375\n');
  }, 300_000);

  test("a two-platform image index in the test bed's registry; an amd64 engine pulls its own platform", async () => {
    const ref = `${TESTBED_REGISTRY}/swarm:it`;
    await script(['bash', join(REPO, 'scripts/image.sh'), 'index', ref], { DOCKER_HOST: `tcp://${h1}` }, 600_000);
    const index = JSON.parse(await script(['docker', 'manifest', 'inspect', '--insecure', ref])) as {
      mediaType: string;
      manifests: { platform: { os: string; architecture: string; variant?: string } }[];
    };
    expect(index.mediaType).toContain('manifest.list');
    expect(index.manifests.map((m) => [m.platform.os, m.platform.architecture, m.platform.variant ?? ''].join('/')).sort()).toEqual(['linux/amd64/', 'linux/arm64/v8']);
    // Host 2 is dockerd 26 (minimum API 1.44): it pulls the amd64 image from the index and runs it.
    const h2 = hosts[1]!.addr;
    await ok(h2, ['pull', '-q', ref], 180);
    expect((await ok(h2, ['image', 'inspect', '-f', '{{.Architecture}}', ref])).trim()).toBe('amd64');
    expect((await ok(h2, ['run', '--rm', ref, 'list', 'nodes://10.0.0.1:2375'])).trim()).toBe('10.0.0.1:2375');
  }, 600_000);
});
