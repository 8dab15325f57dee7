/**
 * `swarm manage --tls/--tlsverify` on the test bed (spec §7): engines serve only TLS on 2376 with
 * --tlsverify, certificates are made at test time (scripts/certs.sh, with every test-bed IP as SAN).
 * Hosts 1 and 2 have certificates from the cluster CA; host 3 presents one from another CA.
 * The docker CLI (v28) drives the manager over mutual TLS: info, run, logs, exec, attach with stdin.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, copyFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { run, testbedDown, testbedUp, TESTBED_ID, type CliResult, type TestbedHost } from '../helpers/testbed';

const REPO = resolve(import.meta.dir, '../..');
const NET = `10.99.${TESTBED_ID || '0'}`;
let work = '';
let certs = '';
let hosts: TestbedHost[] = [];
let bin: SwarmBinary;
let verifying: RunningSwarm;
let tlsOnly: RunningSwarm | undefined;
let addr = '';
let sock = '';
const P = `tls${Date.now().toString(36)}`;

const c = (name: string) => join(certs, name);

function engineTlsArgs(cert: string, key: string): string[] {
  return ['--tlsverify', `--tlscacert=${c('ca.pem')}`, `--tlscert=${c(cert)}`, `--tlskey=${c(key)}`];
}

/** docker CLI against the verifying manager with DOCKER_TLS_VERIFY/DOCKER_CERT_PATH. */
function docker(args: string[], opts: { input?: string; timeoutS?: number; certPath?: string; host?: string } = {}): Promise<CliResult> {
  return run(['docker', ...args], {
    stdin: opts.input,
    timeoutMs: (opts.timeoutS ?? 60) * 1000,
    env: {
      DOCKER_CONFIG: join(work, '.docker'),
      DOCKER_HOST: opts.host ?? `tcp://${addr}`,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: opts.certPath ?? c('docker'),
    },
  });
}

async function ok(args: string[], opts: { input?: string; timeoutS?: number } = {}): Promise<string> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function curl(args: string[]): Promise<CliResult> {
  return run(['curl', '-sS', '--max-time', '10', ...args], { timeoutMs: 15_000 });
}

const healthy = (text: string) => text.match(/Status: Healthy/g)?.length ?? 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-tls-it-'));
  certs = join(work, 'certs');
  const ips = [1, 2, 3].map((i) => `${NET}.${10 + i}`);
  const r = await run(['bash', join(REPO, 'scripts/certs.sh'), certs, ...ips]);
  if (r.code !== 0) throw new Error(`certs.sh: ${r.stderr}`);
  // DOCKER_CERT_PATH layout for the client signed by the other CA.
  mkdirSync(c('other-docker'));
  copyFileSync(c('ca.pem'), c('other-docker/ca.pem'));
  copyFileSync(c('other-client-cert.pem'), c('other-docker/cert.pem'));
  copyFileSync(c('other-client-key.pem'), c('other-docker/key.pem'));
  hosts = await testbedUp(3, {
    dockerdArgs: {
      1: engineTlsArgs('server-cert.pem', 'server-key.pem'),
      2: engineTlsArgs('server-cert.pem', 'server-key.pem'),
      3: engineTlsArgs('other-server-cert.pem', 'other-server-key.pem'),
    },
  });
  bin = new SwarmBinary();
  addr = `127.0.0.1:${await freePort()}`;
  sock = join(work, 'swarm.sock');
  verifying = bin.start([
    'manage',
    '--tlsverify',
    '--tlscacert',
    c('ca.pem'),
    '--tlscert',
    c('server-cert.pem'),
    '--tlskey',
    c('server-key.pem'),
    '-H',
    `tcp://${addr}`,
    '-H',
    `unix://${sock}`,
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    `nodes://${hosts.map((h) => h.addr).join(',')}`,
  ]);
  await waitFor('2 healthy TLS engines', async () => (healthy((await docker(['info'], { timeoutS: 20 })).stdout) === 2 ? true : undefined), 60_000, 300);
}, 400_000);

afterAll(async () => {
  await verifying?.stop();
  await tlsOnly?.stop();
  if (verifying) writeFileSync(join(tmpdir(), 'swarm-tls-it.log'), verifying.log());
  bin?.cleanup();
  await testbedDown();
  rmSync(work, { recursive: true, force: true });
}, 200_000);

describe('test bed', () => {
  test('engines serve TLS on 2376 (hosts file) and require a client certificate', async () => {
    expect(hosts.map((h) => h.port)).toEqual([2376, 2376, 2376]);
    const direct = await docker(['version', '--format', '{{.Server.Version}}'], { host: `tcp://${hosts[0]!.addr}`, timeoutS: 20 });
    expect(direct.code).toBe(0);
    const plain = await run(['docker', '-H', `tcp://${hosts[0]!.addr}`, 'version'], { timeoutMs: 20_000 });
    expect(plain.code).not.toBe(0);
  });
});

describe('manager with --tlsverify', () => {
  test('docker --tlsverify info: the two engines of the CA are Healthy, the other-CA engine is not, with a clear error', async () => {
    const r = await run(
      ['docker', '--tlsverify', `--tlscacert=${c('ca.pem')}`, `--tlscert=${c('client-cert.pem')}`, `--tlskey=${c('client-key.pem')}`, '-H', `tcp://${addr}`, 'info'],
      { timeoutMs: 20_000, env: { DOCKER_CONFIG: join(work, '.docker') } },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nodes: 3');
    expect(healthy(r.stdout)).toBe(2);
    const node3 = r.stdout.slice(r.stdout.indexOf(hosts[2]!.addr));
    expect(node3).toMatch(/Status: Pending/);
    expect(node3).toContain(`Error: TLS handshake with engine ${hosts[2]!.addr} failed:`);
    expect(node3).toContain("the engine's certificate is not signed by --tlscacert");
  });

  test('run --rm with output, logs, exec (with and without stdin), run -i with stdin', async () => {
    expect((await ok(['run', '--rm', 'busybox', 'echo', 'hi'])).trim()).toBe('hi');
    await ok(['run', '-d', '--name', `${P}-a`, 'busybox', 'sh', '-c', 'echo logline; sleep 600']);
    await waitFor('log line', async () => ((await docker(['logs', `${P}-a`])).stdout.includes('logline') ? true : undefined), 15_000, 300);
    expect((await ok(['exec', `${P}-a`, 'echo', 'from-exec'])).trim()).toBe('from-exec');
    expect(await ok(['exec', '-i', `${P}-a`, 'cat'], { input: 'piped\nlines\n', timeoutS: 30 })).toBe('piped\nlines\n');
    expect(await ok(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'stdin-run\n', timeoutS: 30 })).toBe('stdin-run\n');
    const where = (await ok(['inspect', '-f', '{{.Node.Addr}}', `${P}-a`])).trim();
    expect([hosts[0]!.addr, hosts[1]!.addr]).toContain(where);
    await ok(['rm', '-f', `${P}-a`]);
  }, 120_000);

  test('clients without a certificate, with one from another CA, or without TLS are refused', async () => {
    const otherCa = await docker(['info'], { certPath: c('other-docker'), timeoutS: 20 });
    expect(otherCa.code).not.toBe(0);
    expect(otherCa.stdout).not.toContain('Nodes:');
    const plain = await run(['docker', '-H', `tcp://${addr}`, 'info'], { timeoutMs: 20_000, env: { DOCKER_CONFIG: join(work, '.docker') } });
    expect(plain.code).not.toBe(0);
    expect((await curl(['--cacert', c('ca.pem'), `https://${addr}/_ping`])).code).not.toBe(0);
    expect((await curl(['--cacert', c('ca.pem'), '--cert', c('other-client-cert.pem'), '--key', c('other-client-key.pem'), `https://${addr}/_ping`])).code).not.toBe(0);
    const good = await curl(['--cacert', c('ca.pem'), '--cert', c('client-cert.pem'), '--key', c('client-key.pem'), `https://${addr}/_ping`]);
    expect(good.stdout).toBe('OK');
  });

  test('TLS 1.2 minimum', async () => {
    const auth = ['--cacert', c('ca.pem'), '--cert', c('client-cert.pem'), '--key', c('client-key.pem')];
    expect((await curl([...auth, '--tls-max', '1.1', `https://${addr}/_ping`])).code).not.toBe(0);
    expect((await curl([...auth, '--tlsv1.2', '--tls-max', '1.2', `https://${addr}/_ping`])).stdout).toBe('OK');
  });

  test('the unix listener serves TLS too', async () => {
    const auth = ['--unix-socket', sock, '--cacert', c('ca.pem')];
    const good = await curl([...auth, '--cert', c('client-cert.pem'), '--key', c('client-key.pem'), 'https://localhost/_ping']);
    expect(good.stdout).toBe('OK');
    expect((await curl([...auth, 'https://localhost/_ping'])).code).not.toBe(0);
  });
});

describe('the FROM-scratch image as a --tlsverify manager', () => {
  test('built and run on TLS host 1 (--net host), it serves mutual TLS and reaches the TLS engines', async () => {
    const tlsEnv = { DOCKER_HOST: `tcp://${hosts[0]!.addr}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: c('docker'), DOCKER_CONFIG: join(work, '.docker') };
    const built = await run(['bash', join(REPO, 'scripts/image.sh'), 'build', '-t', 'swarm:tls-it'], { timeoutMs: 300_000, env: tlsEnv });
    expect(`${built.code} ${built.stderr}`).toStartWith('0 ');
    const started = await run(
      [
        'docker', 'run', '-d', '--name', `${P}-mgr`, '--net', 'host', '-v', `${certs}:/certs:ro`, 'swarm:tls-it',
        'manage', '--tlsverify', '--tlscacert', '/certs/ca.pem', '--tlscert', '/certs/server-cert.pem', '--tlskey', '/certs/server-key.pem',
        '-H', 'tcp://0.0.0.0:3376', '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s',
        `nodes://${hosts.map((h) => h.addr).join(',')}`,
      ],
      { timeoutMs: 60_000, env: tlsEnv },
    );
    expect(`${started.code} ${started.stderr}`).toStartWith('0 ');
    const manager = `tcp://${hosts[0]!.ip}:3376`;
    const info = await waitFor('2 healthy engines via the image', async () => {
      const r = await docker(['info'], { host: manager, timeoutS: 20 });
      return healthy(r.stdout) === 2 ? r.stdout : undefined;
    }, 60_000, 300);
    expect(info).toContain("the engine's certificate is not signed by --tlscacert");
    expect((await docker(['run', '--rm', 'busybox', 'echo', 'from-image'], { host: manager })).stdout.trim()).toBe('from-image');
    expect((await docker(['info'], { host: manager, certPath: c('other-docker'), timeoutS: 20 })).code).not.toBe(0);
    await run(['docker', 'rm', '-f', `${P}-mgr`], { timeoutMs: 30_000, env: tlsEnv });
  }, 180_000);
});

describe('manager with --tls only', () => {
  test('no client certificate needed; engine certificates are not verified (the other-CA engine is Healthy)', async () => {
    const port = await freePort();
    tlsOnly = bin.start([
      'manage',
      '--tls',
      '--tlscert',
      c('server-cert.pem'),
      '--tlskey',
      c('server-key.pem'),
      '-H',
      `tcp://127.0.0.1:${port}`,
      '--engine-refresh-min-interval',
      '1s',
      '--engine-refresh-max-interval',
      '2s',
      `nodes://${hosts.map((h) => h.addr).join(',')}`,
    ]);
    const info = await waitFor(
      '3 healthy engines',
      async () => {
        const r = await curl(['--cacert', c('ca.pem'), `https://127.0.0.1:${port}/info`]);
        const text = r.stdout;
        return text.split('"Healthy"').length - 1 === 3 ? text : undefined;
      },
      60_000,
      300,
    );
    expect(info).toContain('swarm/1.2.9');
    // Any client certificate will do (here the other CA's); the docker CLI needs files in DOCKER_CERT_PATH with --tls.
    const r = await run(['docker', '--tls', '-H', `tcp://127.0.0.1:${port}`, 'run', '--rm', 'busybox', 'echo', 'tls-only'], {
      timeoutMs: 60_000,
      env: { DOCKER_CONFIG: join(work, '.docker'), DOCKER_CERT_PATH: c('other-docker') },
    });
    expect(`${r.stdout.trim()}${r.stderr}`).toBe('tls-only');
    expect(await tlsOnly.stop()).toBe(0);
    tlsOnly = undefined;
  }, 120_000);
});
