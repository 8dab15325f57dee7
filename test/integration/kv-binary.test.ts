/**
 * The compiled binary against real stores: `swarm list` and `swarm join` with etcd://, zk:// and
 * consul://, run from a copy of dist/swarm in a temporary directory with node_modules out of reach
 * (this is what catches etcd3 loading its .proto files from the build machine's disk).
 * Builds dist/swarm first when it is missing (or when SWARM_TEST_REBUILD=1).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, makeTestCerts, startEtcd, startKVServer, type KVServer, type TestCerts } from '../helpers/kv-servers';

const ROOT = resolve(import.meta.dir, '../..');
const BUILT = join(ROOT, 'dist/swarm');
const workDir = mkdtempSync(join(tmpdir(), 'swarm-bin-'));
const BIN = join(workDir, 'swarm');
const TTL_S = 3;
const MARGIN_MS = 2000;
/** How long after its joiner died an entry may linger (Consul: sessions of 10 s minimum, invalidated after 2 × TTL). */
const EXPIRY_MS = { etcd: TTL_S * 1000, zk: TTL_S * 1000, consul: 20_000 } as const;

const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: workDir };

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the binary from the temporary directory (async: the Consul emulator lives in this process). */
function run(args: string[], timeoutMs = 20_000): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(BIN, args, { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d.toString()));
    child.stderr.on('data', (d) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`swarm ${args.join(' ')} did not finish within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

function startJoin(args: string[]): ChildProcess & { output: () => string } {
  const child = spawn(BIN, ['join', ...args], { cwd: workDir, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d.toString()));
  return Object.assign(child, { output: () => err });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

async function listUntil(args: string[], want: (lines: string[]) => boolean, timeoutMs: number): Promise<{ lines: string[]; at: number }> {
  const deadline = Date.now() + timeoutMs;
  let last: Result | undefined;
  for (;;) {
    last = await run(['list', ...args]);
    const lines = last.stdout.split('\n').filter(Boolean);
    if (last.code === 0 && want(lines)) return { lines, at: Date.now() };
    if (Date.now() > deadline) throw new Error(`swarm list ${args.join(' ')}: condition not met within ${timeoutMs} ms; last: code ${last.code}, out ${JSON.stringify(last.stdout)}, err ${JSON.stringify(last.stderr)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const joins: ChildProcess[] = [];

beforeAll(() => {
  if (!existsSync(BUILT) || process.env.SWARM_TEST_REBUILD === '1') {
    const r = spawnSync(process.execPath, ['scripts/build.ts'], { cwd: ROOT, stdio: 'inherit', timeout: 300_000 });
    if (r.status !== 0) throw new Error('building dist/swarm failed');
  }
  copyFileSync(BUILT, BIN);
}, 300_000);

afterAll(() => {
  for (const j of joins) j.kill('SIGKILL');
  rmSync(workDir, { recursive: true, force: true });
});

describe('compiled binary: URL errors', () => {
  test('bad KV URLs fail with one line and exit 1', async () => {
    for (const [url, message] of [
      ['etcd://', 'Error: etcd:// discovery needs the address of at least one etcd server, e.g. etcd://10.0.0.1:2379,10.0.0.2:2379/swarm'],
      ['zk://zk1/swarm', 'Error: invalid ZooKeeper address in "zk://zk1/swarm": address zk1: missing port in address (ZooKeeper usually listens on port 2181)'],
      ['consul://h:99999', 'port must be between 1 and 65535'],
    ] as const) {
      const r = await run(['list', url]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(message);
    }
  });

  test('an unreachable etcd is a clear error, not a hang', async () => {
    const port = await freePort();
    const started = Date.now();
    const r = await run(['list', `etcd://127.0.0.1:${port}/x`]);
    expect(Date.now() - started).toBeLessThan(8000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error: etcd at 127.0.0.1:${port} (prefix x): read: cannot connect (connect ECONNREFUSED 127.0.0.1:${port})`);
  });
});

for (const kind of ['etcd', 'zk', 'consul'] as const) {
  describe(`compiled binary with ${kind}://`, () => {
    let server: KVServer;
    beforeAll(async () => {
      server = await startKVServer(kind);
    }, 120_000);
    afterAll(async () => {
      await server?.destroy();
    });

    test('list is empty, join registers, entries expire after a stop (SIGTERM) and a crash (SIGKILL)', async () => {
      const url = `${kind}://${server.addr}/bin${Date.now().toString(36)}`;
      const opts = ['--discovery-opt', 'kv.path=bin/nodes'];
      const empty = await run(['list', url, ...opts]);
      expect(empty).toEqual({ code: 0, stdout: '', stderr: '' });

      const a = startJoin(['--advertise', '10.9.0.1:2375', '--heartbeat', '1s', '--ttl', `${TTL_S}s`, ...opts, url]);
      const b = startJoin(['--advertise', '10.9.0.2:2375', '--heartbeat', '1s', '--ttl', `${TTL_S}s`, ...opts, url]);
      joins.push(a, b);
      await listUntil([url, ...opts], (lines) => lines.join(',') === '10.9.0.1:2375,10.9.0.2:2375', 10_000);
      // The default kv.path is another directory.
      expect((await run(['list', url])).stdout).toBe('');
      await new Promise((r) => setTimeout(r, 1500)); // a few heartbeats

      const stoppedAt = Date.now();
      a.kill('SIGTERM');
      b.kill('SIGKILL');
      expect(await exited(a)).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(3000); // join winds down at once
      expect(a.output()).toContain('Stopped registering');
      expect(a.output()).not.toContain('Registration failed');
      const gone = await listUntil([url, ...opts], (lines) => lines.length === 0, EXPIRY_MS[kind] + MARGIN_MS + 5000);
      expect(gone.at - stoppedAt).toBeLessThanOrEqual(EXPIRY_MS[kind] + MARGIN_MS + 1000);
    }, 60_000);
  });
}

describe('compiled binary with etcd:// over TLS', () => {
  let certs: TestCerts;
  let server: KVServer;
  beforeAll(async () => {
    certs = makeTestCerts();
    server = await startEtcd({ tls: certs });
  }, 120_000);
  afterAll(async () => {
    await server?.destroy();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  test('join and list with kv.cacertfile/kv.certfile/kv.keyfile', async () => {
    const url = `etcd://${server.addr}/tlsbin`;
    const opts = ['--discovery-opt', `kv.cacertfile=${certs.ca}`, '--discovery-opt', `kv.certfile=${certs.clientCert}`, '--discovery-opt', `kv.keyfile=${certs.clientKey}`];
    const join = startJoin(['--advertise', '10.8.0.1:2376', '--heartbeat', '1s', '--ttl', '3s', ...opts, url]);
    joins.push(join);
    await listUntil([url, ...opts], (lines) => lines.join() === '10.8.0.1:2376', 10_000);
    join.kill('SIGTERM');
    expect(await exited(join)).toBe(0);
    expect(join.output()).not.toContain('Registration failed');
    const plain = await run(['list', url]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(`Error: etcd at ${server.addr} (prefix tlsbin):`);
  }, 60_000);
});
