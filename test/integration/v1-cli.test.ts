/**
 * Command lines written for swarm 1.2.9 run unchanged on the compiled binary: global flags before the
 * command, long flags with one dash, v1's validation messages. No engines needed.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { run } from '../helpers/testbed';

const bin = new SwarmBinary();
const work = mkdtempSync(join(tmpdir(), 'swarm-v1cli-'));
const running: RunningSwarm[] = [];
/** An address nothing listens on: the manager keeps it Pending and serves anyway. */
let nobody = '';

beforeAll(async () => {
  nobody = `nodes://127.0.0.1:${await freePort()}`;
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  bin.cleanup();
  rmSync(work, { recursive: true, force: true });
});

function start(args: string[]): RunningSwarm {
  const p = bin.start(args);
  running.push(p);
  return p;
}

async function pinged(port: number): Promise<void> {
  await waitFor(`ping on ${port}`, async () => ((await fetch(`http://127.0.0.1:${port}/_ping`).then((r) => r.text()).catch(() => '')) === 'OK' ? true : undefined));
}

async function getJson<T>(port: number, path: string): Promise<T> {
  return (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as T;
}

describe('global flags before the command', () => {
  test('swarm --debug manage: serves, logs at debug level', async () => {
    const port = await freePort();
    const m = start(['--debug', 'manage', '-H', `127.0.0.1:${port}`, nobody]);
    await pinged(port);
    // A 404 is logged at debug level only.
    expect((await fetch(`http://127.0.0.1:${port}/containers/nope/json`)).status).toBe(404);
    await waitFor('debug line', () => (/ DEBUG +API error .*status=404/.test(m.log()) ? true : undefined));
    expect(await m.stop('SIGTERM')).toBe(0);
    expect(m.log()).toContain('Manager stopped');
  });

  test('without --debug the same request logs nothing at debug level', async () => {
    const port = await freePort();
    const m = start(['manage', '-H', `127.0.0.1:${port}`, nobody]);
    await pinged(port);
    await fetch(`http://127.0.0.1:${port}/containers/nope/json`);
    await Bun.sleep(200);
    expect(await m.stop('SIGTERM')).toBe(0);
    expect(m.log()).not.toContain('DEBUG');
  });

  test('swarm -l debug join and --log-level=info / --log-level info list', async () => {
    const tokenPort = await freePort();
    const url = `http://127.0.0.1:${tokenPort}/v1`;
    start(['token-server', '--memory', '-H', `127.0.0.1:${tokenPort}`]);
    await waitFor('token server', async () => ((await fetch(`${url}/clusters/x`).catch(() => undefined)) ? true : undefined));
    const token = (await bin.run(['create', '-discovery-url', url])).stdout.trim();
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    const j = start(['-l', 'debug', 'join', '-advertise=10.3.0.1:2375', '-heartbeat', '1s', '-ttl', '3s', '-discovery-url', url, `token://${token}`]);
    await waitFor('debug registration line', () => (/ DEBUG +Registered addr=10\.3\.0\.1:2375/.test(j.log()) ? true : undefined));
    for (const global of [['--log-level=info'], ['--log-level', 'info'], ['-log-level', 'warn'], ['-debug']]) {
      const r = await bin.run([...global, 'list', '-discovery-url', url, `token://${token}`]);
      expect({ global, code: r.code, out: r.stdout }).toEqual({ global, code: 0, out: '10.3.0.1:2375\n' });
    }
    expect(await j.stop('SIGTERM')).toBe(0);
  }, 30_000);

  test('swarm --log-level=info list file://... and -l error l file://...', async () => {
    const file = join(work, 'cluster');
    writeFileSync(file, '10.0.0.1:2375\n10.0.0.[2:3]:2375\n');
    const want = '10.0.0.1:2375\n10.0.0.2:2375\n10.0.0.3:2375\n';
    for (const args of [['--log-level=info', 'list', `file://${file}`], ['-l', 'error', 'l', `file://${file}`], ['-l', 'panic', 'list', `file://${file}`]]) {
      const r = await bin.run(args);
      expect({ args, code: r.code, out: r.stdout, err: r.stderr }).toEqual({ args, code: 0, out: want, err: '' });
    }
  });

  test('swarm --experimental manage: /version and /info say Experimental', async () => {
    const [on, off] = [await freePort(), await freePort()];
    start(['--experimental', 'manage', '-H', `127.0.0.1:${on}`, nobody]);
    start(['manage', '-H', `127.0.0.1:${off}`, nobody]);
    await pinged(on);
    await pinged(off);
    expect((await getJson<{ Experimental: boolean }>(on, '/version')).Experimental).toBe(true);
    expect((await getJson<{ ExperimentalBuild: boolean }>(on, '/info')).ExperimentalBuild).toBe(true);
    expect((await getJson<{ Experimental: boolean }>(off, '/version')).Experimental).toBe(false);
    expect((await getJson<{ ExperimentalBuild: boolean }>(off, '/info')).ExperimentalBuild).toBe(false);
  });

  test('an unknown global flag is one line, exit 2', async () => {
    const r = await bin.run(['--bogus', 'manage', nobody]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("Error: flag provided but not defined: -bogus (see 'swarm --help')\n");
  });

  test('--help says what --experimental does', async () => {
    expect((await bin.run(['--help'])).stdout).toContain('--experimental       manager reports Experimental: true in /version, /info');
    const manage = await bin.run(['manage', '--help']);
    expect(manage.stdout).toContain('--experimental');
    expect(manage.stdout.replace(/\s+/g, ' ')).toContain("Report Experimental: true in the manager's /version and /info");
    expect((await bin.run(['-debug', '-help'])).stdout).toBe((await bin.run(['--help'])).stdout);
  });
});

describe('long flags with one dash (Go flag package)', () => {
  test('-strategy binpack -cluster-opt swarm.createretry=1 -heartbeat 5s: docker info shows Strategy: binpack', async () => {
    const port = await freePort();
    start(['manage', '-strategy', 'binpack', '-cluster-opt', 'swarm.createretry=1', '-heartbeat', '5s', '-filter', 'health', '-H', `127.0.0.1:${port}`, nobody]);
    await pinged(port);
    const info = await getJson<{ SystemStatus: [string, string][] }>(port, '/info');
    expect(info.SystemStatus).toContainEqual(['Strategy', 'binpack']);
    expect(info.SystemStatus).toContainEqual(['Filters', 'health']);
    const docker = await run(['docker', '-H', `tcp://127.0.0.1:${port}`, 'info'], { timeoutMs: 15_000 });
    expect(docker.stdout).toContain('Strategy: binpack');
  });

  test('an unknown single-dash word is refused, not read as -h plus a value', async () => {
    const r = await bin.run(['manage', '-heartbeatx', '5s', nobody]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("Error: flag provided but not defined: -heartbeatx (see 'swarm manage --help')\n");
  });
});

describe("v1's validation messages, first on the one error line", () => {
  const advertise = ['--advertise', '10.0.0.1:2375'];
  const cases: [string[], string][] = [
    [['list', '--timeout', '0s', 'nodes://a:1'], '--timeout should be a positive number'],
    [['list', '-timeout', 'soon', 'nodes://a:1'], 'invalid --timeout: time: invalid duration soon'],
    [['manage', '--replication', '--advertise', '127.0.0.1:4000', '--replication-ttl', '0s', 'etcd://127.0.0.1:1'], '--replication-ttl should be a positive number'],
    [['manage', '--cluster-opt', 'swarm.overcommit=-2', 'nodes://a:1'], 'swarm.overcommit should be larger than -1, -2.000000 is invalid'],
    [['manage', '-cluster-opt', 'swarm.createretry=-1', 'nodes://a:1'], 'swarm.createretry can not be negative, -1 is invalid'],
    [['manage', '--engine-refresh-min-interval', '30s', '--engine-refresh-max-interval', '10s', 'nodes://a:1'], 'max refresh interval cannot be less than min refresh interval'],
    [['manage', '-engine-refresh-min-interval', '0s', 'nodes://a:1'], 'min refresh interval should be a positive number'],
    [['manage', '--heartbeat', '500ms', 'nodes://a:1'], '--heartbeat should be at least one second'],
    [['manage', '--heartbeat', '60', 'nodes://a:1'], 'invalid --heartbeat: time: missing unit in duration 60'],
    [['join', ...advertise, '-heartbeat', '500ms', 'token://abc'], '--heartbeat should be at least one second'],
    [['join', ...advertise, '--heartbeat', '5s', '--ttl', '5s', 'token://abc'], '--ttl must be strictly superior to the heartbeat value'],
    [['join', ...advertise, '--delay', '-1s', 'token://abc'], '--delay should not be a negative number'],
    [['manage', '--engine-refresh-retry', '5', 'nodes://a:1'], '--engine-refresh-retry is deprecated. Use --engine-failure-retry'],
    [['manage', '--engine-failure-retry', '0', 'nodes://a:1'], 'invalid failure retry count'],
    [['manage', '-strategy', 'best', 'nodes://a:1'], 'strategy not supported'],
    [['manage', '--filter', 'health', '-f', 'nope', 'nodes://a:1'], 'filter not supported'],
    [['manage', '-c', 'mesos-experimental', 'nodes://a:1'], 'unsupported cluster "mesos-experimental"'],
    [['join', '--advertise', '10.0.0.1', 'token://abc'], '--advertise should be of the form ip:port or hostname:port'],
    [['manage', '--replication', '-advertise', 'nope', 'etcd://127.0.0.1:1'], '--advertise should be of the form ip:port or hostname:port'],
    [['join', 'token://abc'], 'missing mandatory --advertise flag'],
    [['manage', '--replication', 'etcd://127.0.0.1:1'], '--advertise address must be provided when using --leader-election'],
    [['manage', '--replication', '--advertise', '127.0.0.1:4000', 'nodes://a:1'], 'Leader election is only supported with consul, etcd and zookeeper discovery.'],
    [['join', ...advertise, '-discovery-opt', 'bad', 'token://abc'], '--discovery-opt must contain key=value strings'],
    [['manage', '--discovery-opt', 'bad', 'nodes://a:1'], '--discovery-opt must contain key=value strings'],
    [['manage', '--tls', 'nodes://a:1'], '--tlscert and --tlskey must be provided when using --tls'],
    [['manage', '--tlsverify', '--tlscert', 'c', '--tlskey', 'k', 'nodes://a:1'], '--tlscacert must be provided when using --tlsverify'],
    [['manage', '--tlscert', 'c', 'nodes://a:1'], '--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify'],
    [['manage', '-H', 'udp://1.2.3.4:5', 'nodes://a:1'], 'unsupported protocol: "udp"'],
    [['manage'], "discovery required to manage a cluster. See 'swarm manage --help'."],
    [['join', ...advertise], "discovery required to join a cluster. See 'swarm join --help'."],
    [['list'], "discovery required to list a cluster. See 'swarm list --help'."],
    [['create', 'extra'], "the `create` command takes no arguments. See 'swarm create --help'."],
  ];
  test.each(cases)('%p', async (args, message) => {
    const r = await bin.run(args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2); // one line and its newline
    expect(r.stderr.startsWith(`Error: ${message}`)).toBe(true);
  });
});
