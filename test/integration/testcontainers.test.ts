/**
 * Testcontainers on a cluster: the compiled `swarm manage` with the publish proxy
 * (`--cluster-opt swarm.publish-proxy=true`, which also turns session co-location on) over two real
 * testbed engines, host 2 dockerd 26 refusing API < 1.44 as Engine 29 does. Testcontainers for Node
 * (npm `testcontainers`, a dev dependency) runs the same suite through the manager and directly
 * against one engine, the reference; then the docker CLI: `docker run -d -P` on both nodes, both
 * reachable at the manager's address, listeners that follow stop/start/rm, node loss and
 * rescheduling. A second manager without the option keeps v1's answer (the node's IP).
 *
 *   TESTBED_ID=6 npm run build && TESTBED_ID=6 node_modules/.bin/bun test --timeout 300000 test/integration/testcontainers.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, run, startEngine, testbedDown, testbedUp, type CliResult, type TestbedHost } from '../helpers/testbed';
import type { SuiteReport } from '../helpers/testcontainers-suite';

const REPO = resolve(import.meta.dir, '../..');
const BUN = join(REPO, 'node_modules/.bin/bun');
const SUITE = join(REPO, 'test/helpers/testcontainers-suite.ts');

let bin: SwarmBinary;
let work = '';
let hosts: TestbedHost[] = [];
let proxied: RunningSwarm | undefined;
let plain: RunningSwarm | undefined;
let proxyHost = '';
let plainHost = '';
const P = `tc${Date.now().toString(36)}`;

function docker(host: string, args: string[], timeoutS = 60): Promise<CliResult> {
  return run(['docker', '-H', host, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(host: string, args: string[]): Promise<string> {
  const r = await docker(host, args);
  if (r.code !== 0) throw new Error(`docker -H ${host} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** `busybox httpd` on 8080 answering `text`. */
const httpd = (text: string) => ['busybox', 'sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 8080 -h /www`];

async function get(hostPort: string): Promise<string> {
  const r = await fetch(`http://${hostPort}/`, { signal: AbortSignal.timeout(5000) });
  return (await r.text()).trim();
}

/** Whether something accepts TCP connections at host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolveConn) => {
    const s = net.connect({ host, port });
    s.setTimeout(3000, () => {
      s.destroy();
      resolveConn(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolveConn(true);
    });
    s.once('error', () => resolveConn(false));
  });
}

/** `docker port <name> <port>` → the first `ip:port` it prints. */
async function portOf(host: string, name: string, port: string): Promise<{ ip: string; port: number }> {
  const line = (await ok(host, ['port', name, port])).trim().split('\n')[0] ?? '';
  const m = /^(.*):(\d+)$/.exec(line);
  if (!m) throw new Error(`docker port ${name} ${port}: ${line}`);
  return { ip: m[1]!, port: Number(m[2]) };
}

async function startManager(extra: string[]): Promise<{ proc: RunningSwarm; host: string }> {
  const host = `tcp://127.0.0.1:${await freePort()}`;
  const proc = bin.start([
    'manage',
    '-H',
    host,
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    '--engine-failure-retry',
    '2',
    ...extra,
    `nodes://${hosts.map((h) => h.addr).join(',')}`,
  ]);
  await waitFor('2 healthy nodes', async () => ((await docker(host, ['info'], 15)).stdout.match(/Status: Healthy/g)?.length === 2 ? true : undefined), 60_000, 300);
  return { proc, host };
}

/** Runs the Testcontainers suite in a process of its own against `dockerHost`. */
async function runSuite(dockerHost: string): Promise<SuiteReport> {
  const r = await run([BUN, SUITE], { timeoutMs: 240_000, env: { DOCKER_HOST: dockerHost, TESTCONTAINERS_RYUK_DISABLED: 'true', DOCKER_CONFIG: join(work, '.docker') } });
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as SuiteReport;
  } catch {
    throw new Error(`the Testcontainers suite printed no report (exit ${r.code}): ${r.stderr.slice(-2000)}`);
  }
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-tc-it-'));
  writeFileSync(join(work, 'placeholder'), '');
  hosts = await testbedUp(2, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  bin = new SwarmBinary();
  ({ proc: proxied, host: proxyHost } = await startManager(['--cluster-opt', 'swarm.publish-proxy=true']));
  ({ proc: plain, host: plainHost } = await startManager([]));
}, 300_000);

afterAll(async () => {
  await proxied?.stop();
  await plain?.stop();
  if (proxied) writeFileSync(join(tmpdir(), 'swarm-testcontainers-it.log'), proxied.log());
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
});

describe('Testcontainers for Node: through the manager and, as the reference, against one engine', () => {
  let viaManager: SuiteReport;
  let direct: SuiteReport;
  const CHECKS = [
    'exposed port answers HTTP at the mapped port',
    'two containers on a user network talk by alias',
    'withCopyFilesToContainer: the file is there before start',
    'exec returns output and exit code',
    'log message wait strategy',
    'stop removes the container',
  ];

  beforeAll(async () => {
    direct = await runSuite(`tcp://${hosts[1]!.addr}`); // the dockerd 26 host refusing API < 1.44
    viaManager = await runSuite(proxyHost);
  }, 600_000);

  for (const name of CHECKS) {
    test(name, () => {
      expect({ name, ...direct.checks[name] }).toMatchObject({ name, ok: true });
      expect({ name, ...viaManager.checks[name] }).toMatchObject({ name, ok: true });
    });
  }

  test('the mapped port is reported at the manager’s address (the engine reports its own)', () => {
    expect(viaManager.checks[CHECKS[0]!]!.detail).toStartWith('127.0.0.1:');
    expect(direct.checks[CHECKS[0]!]!.detail).toStartWith(`${hosts[1]!.ip}:`);
  });

  test('the session’s containers and network stay on one node', () => {
    const nodes = Object.values(viaManager.nodes);
    expect(nodes.length).toBe(3);
    expect(new Set(nodes).size).toBe(1);
  });
});

describe('docker run -d -P on two nodes: both reachable at the manager’s address', () => {
  const web1 = `${P}-web1`;
  const web2 = `${P}-web2`;

  beforeAll(async () => {
    await ok(proxyHost, ['run', '-d', '--name', web1, '-P', '--expose', '8080', '-e', 'constraint:node==node-1', ...httpd('hello-from-node-1')]);
    await ok(proxyHost, ['run', '-d', '--name', web2, '-P', '--expose', '8080', '-e', 'constraint:node==node-2', ...httpd('hello-from-node-2')]);
  }, 120_000);

  test('docker port names two manager ports on 127.0.0.1, each answering from its own node', async () => {
    const a = await portOf(proxyHost, web1, '8080');
    const b = await portOf(proxyHost, web2, '8080');
    expect(a.ip).toBe('127.0.0.1');
    expect(b.ip).toBe('127.0.0.1');
    expect(a.port).not.toBe(b.port);
    expect(await waitFor('web1 through the manager', async () => (await get(`127.0.0.1:${a.port}`).catch(() => '')) || undefined, 10_000)).toBe('hello-from-node-1');
    expect(await waitFor('web2 through the manager', async () => (await get(`127.0.0.1:${b.port}`).catch(() => '')) || undefined, 10_000)).toBe('hello-from-node-2');
  });

  test('docker ps and inspect report the manager-side binding', async () => {
    const a = await portOf(proxyHost, web1, '8080');
    const ps = await ok(proxyHost, ['ps', '--filter', `name=${web1}`, '--format', '{{.Ports}}']);
    expect(ps.trim()).toBe(`127.0.0.1:${a.port}->8080/tcp`);
    const ports = JSON.parse(await ok(proxyHost, ['inspect', '-f', '{{json .NetworkSettings.Ports}}', web1])) as Record<string, { HostIp: string; HostPort: string }[]>;
    expect(ports['8080/tcp']).toEqual([{ HostIp: '127.0.0.1', HostPort: String(a.port) }]);
  });

  test('without the option the manager reports the node’s IP and port, as v1', async () => {
    const node = await portOf(`tcp://${hosts[0]!.addr}`, web1, '8080');
    const viaPlain = await portOf(plainHost, web1, '8080');
    expect(viaPlain).toEqual({ ip: hosts[0]!.ip, port: node.port });
  });

  test('the same fixed port on both nodes: the second gets another manager port', async () => {
    const f1 = `${P}-fixed1`;
    const f2 = `${P}-fixed2`;
    await ok(proxyHost, ['run', '-d', '--name', f1, '-p', '18080:8080', '-e', 'constraint:node==node-1', ...httpd('fixed-1')]);
    await ok(proxyHost, ['run', '-d', '--name', f2, '-p', '18080:8080', '-e', 'constraint:node==node-2', ...httpd('fixed-2')]);
    const a = await portOf(proxyHost, f1, '8080');
    const b = await portOf(proxyHost, f2, '8080');
    expect(a.port).toBe(18080); // free on the manager: the node's number
    expect(b.port).not.toBe(18080);
    expect(await waitFor('fixed-2', async () => (await get(`127.0.0.1:${b.port}`).catch(() => '')) || undefined, 10_000)).toBe('fixed-2');
    await ok(proxyHost, ['rm', '-f', f1, f2]);
  });

  test('a UDP port is listened on for UDP', async () => {
    const u = `${P}-udp`;
    await ok(proxyHost, ['run', '-d', '--name', u, '-p', '5353/udp', '-e', 'constraint:node==node-1', 'busybox', 'sleep', '600']);
    const { ip, port } = await portOf(proxyHost, u, '5353/udp');
    expect(ip).toBe('127.0.0.1');
    const probe = createSocket('udp4');
    const bound = await new Promise<boolean>((r) => {
      probe.once('error', () => r(false));
      probe.bind(port, '127.0.0.1', () => r(true));
    });
    probe.close();
    expect(bound).toBe(false); // the manager holds it
    await ok(proxyHost, ['rm', '-f', u]);
  });

  test('listeners follow containers: closed on stop, back on start, gone on rm', async () => {
    const a = await portOf(proxyHost, web1, '8080');
    await ok(proxyHost, ['stop', '-t', '1', web1]);
    await waitFor('listener closed after stop', async () => ((await accepts('127.0.0.1', a.port)) ? undefined : true), 10_000);
    await ok(proxyHost, ['start', web1]);
    const again = await portOf(proxyHost, web1, '8080');
    expect(again.port).toBe(a.port); // the manager port is kept for the container when free
    expect(await waitFor('web1 after start', async () => (await get(`127.0.0.1:${again.port}`).catch(() => '')) || undefined, 10_000)).toBe('hello-from-node-1');
    const b = await portOf(proxyHost, web2, '8080');
    await ok(proxyHost, ['rm', '-f', web2]);
    await waitFor('listener closed after rm', async () => ((await accepts('127.0.0.1', b.port)) ? undefined : true), 10_000);
  });

  test('x-tc-sid: creates carrying one session header go to one node', async () => {
    const base = proxyHost.replace('tcp://', 'http://');
    const nodes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${base}/v1.41/containers/create?name=${P}-sid${i}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'x-tc-sid': `${P}-session` },
        body: JSON.stringify({ Image: 'busybox', Cmd: ['sleep', '600'] }),
      });
      expect(r.status).toBe(201);
      nodes.push((await ok(proxyHost, ['inspect', '-f', '{{.Node.Name}}', `${P}-sid${i}`])).trim());
    }
    expect(new Set(nodes).size).toBe(1);
    await ok(proxyHost, ['rm', '-f', `${P}-sid0`, `${P}-sid1`, `${P}-sid2`]);
  });

  test('node loss closes its listeners; the rescheduled container answers on the same manager port', async () => {
    // One manager reschedules (the one without the option would race it for the same container).
    await plain?.stop();
    plain = undefined;
    const name = `${P}-moves`;
    await ok(proxyHost, ['run', '-d', '--name', name, '-P', '--expose', '8080', '-e', 'reschedule:on-node-failure', '-e', 'constraint:node==~node-1', 'busybox', 'sh', '-c', 'mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www']);
    expect((await ok(proxyHost, ['inspect', '-f', '{{.Node.Name}}', name])).trim()).toBe('node-1');
    const before = await portOf(proxyHost, name, '8080');
    const firstHost = await waitFor('answer from node-1', async () => (await get(`127.0.0.1:${before.port}`).catch(() => '')) || undefined, 10_000);
    await killEngine(1, { hard: true });
    try {
      await waitFor('rescheduled to node-2', async () => ((await docker(proxyHost, ['inspect', '-f', '{{.Node.Name}} {{.State.Running}}', name], 15)).stdout.trim() === 'node-2 true' ? true : undefined), 90_000, 500);
      const after = await portOf(proxyHost, name, '8080');
      expect(after.port).toBe(before.port);
      const secondHost = await waitFor('answer from node-2', async () => (await get(`127.0.0.1:${after.port}`).catch(() => '')) || undefined, 15_000);
      expect(secondHost).not.toBe(firstHost); // a new container answers behind the same port
    } finally {
      await startEngine(1);
    }
  }, 180_000);
});
