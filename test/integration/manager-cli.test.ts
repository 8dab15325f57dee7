/** `swarm manage` as a command: flag validation messages, listening, SIGTERM — no engines needed. */
import { afterAll, describe, expect, test } from 'bun:test';
import { createServer } from 'node:net';
import { freePort, SwarmBinary, waitFor } from '../helpers/swarm-bin';
import { run } from '../helpers/testbed';

const bin = new SwarmBinary();
afterAll(() => bin.cleanup());

describe('swarm manage flags', () => {
  test('no discovery → v1 message and usage exit code', async () => {
    const r = await bin.run(['manage']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("discovery required to manage a cluster. See 'swarm manage --help'.");
  });

  test('bad values are refused with v1 messages, before anything starts', async () => {
    const cases: [string[], string][] = [
      [['--strategy', 'best'], 'strategy not supported'],
      [['--filter', 'health', '--filter', 'nope'], 'filter not supported'],
      [['--engine-refresh-min-interval', '0s'], 'min refresh interval should be a positive number'],
      [['--engine-refresh-min-interval', '30s', '--engine-refresh-max-interval', '10s'], 'max refresh interval cannot be less than min refresh interval'],
      [['--engine-refresh-retry', '5'], '--engine-refresh-retry is deprecated. Use --engine-failure-retry'],
      [['--heartbeat', '10ms'], '--heartbeat should be at least one second'],
      [['--cluster-driver', 'mesos-experimental'], 'unsupported cluster'],
      [['--cluster-opt', 'swarm.overcommit=-2'], 'swarm.overcommit should be larger than -1'],
      [['--replication'], '--advertise address must be provided when using --leader-election'],
      [['--tlsverify'], '--tlscert and --tlskey must be provided when using --tls'],
      [['-H', 'udp://1.2.3.4:5'], 'unsupported protocol'],
    ];
    for (const [flags, message] of cases) {
      const r = await bin.run(['manage', ...flags, 'nodes://127.0.0.1:1']);
      expect({ flags, failed: r.code !== 0, err: r.stderr.includes(message) }).toEqual({ flags, failed: true, err: true });
    }
  });

  test('a port in use is reported with what to do', async () => {
    const port = await freePort();
    const blocker = createServer().listen(port, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const r = await bin.run(['manage', '-H', `tcp://127.0.0.1:${port}`, 'nodes://127.0.0.1:1']);
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on tcp://127.0.0.1:${port}: address already in use`);
  });

  test('serves on every -H (SWARM_HOST when none), logs an unreachable engine, stops on SIGTERM', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const m = bin.start(['manage', '-H', `127.0.0.1:${p1}`, '-H', `tcp://127.0.0.1:${p2}`, 'nodes://127.0.0.1:1']);
    for (const p of [p1, p2]) {
      await waitFor(`ping on ${p}`, async () => ((await fetch(`http://127.0.0.1:${p}/_ping`).then((r) => r.text()).catch(() => '')) === 'OK' ? true : undefined), 10_000, 100);
    }
    await waitFor('validation failure log', () => (m.log().includes('Engine validation failed') ? true : undefined), 10_000, 100);
    const info = (await (await fetch(`http://127.0.0.1:${p1}/info`)).json()) as { SystemStatus: [string, string][] };
    expect(info.SystemStatus).toContainEqual(['  └ Status', 'Pending']);
    expect(m.log()).toContain('Engine added, validating addr=127.0.0.1:1');
    expect(await m.stop('SIGTERM')).toBe(0);
    expect(m.log()).toContain('Manager stopped');

    const p3 = await freePort();
    const env = bin.start(['manage', 'nodes://127.0.0.1:1'], { env: { SWARM_HOST: `tcp://127.0.0.1:${p3}` } });
    await waitFor('SWARM_HOST', async () => ((await fetch(`http://127.0.0.1:${p3}/_ping`).then((r) => r.text()).catch(() => '')) === 'OK' ? true : undefined), 10_000, 100);
    await env.stop('SIGTERM');
  });
});

describe('token:// discovery end to end', () => {
  test('token-server + create + join ×2 + manage: docker info lists both engines; a stopped join drops one', async () => {
    const { FakeEngine } = await import('../unit/manager/fake-engine');
    const fakes = [new FakeEngine('fake-1', 'F1'), new FakeEngine('fake-2', 'F2')];
    const addrs = await Promise.all(fakes.map((f) => f.start()));
    const tokenPort = await freePort();
    const url = `http://127.0.0.1:${tokenPort}/v1`;
    const server = bin.start(['token-server', '--memory', '-H', `127.0.0.1:${tokenPort}`]);
    const procs = [server];
    try {
      await waitFor('token server', async () => ((await fetch(`${url}/clusters/x`).catch(() => undefined)) ? true : undefined), 10_000, 100);
      const created = await bin.run(['create', '--discovery-url', url]);
      expect(created.code).toBe(0);
      const token = created.stdout.trim();
      expect(token).toMatch(/^[0-9a-f]{32}$/);
      const joins = addrs.map((a) => bin.start(['join', '--advertise', a, '--heartbeat', '1s', '--ttl', '3s', '--discovery-url', url, `token://${token}`]));
      procs.push(...joins);
      const port = await freePort();
      const manager = bin.start(['manage', '-H', `127.0.0.1:${port}`, '--heartbeat', '1s', '--discovery-url', url, `token://${token}`]);
      procs.push(manager);
      const info = async () => (await run(['docker', '-H', `tcp://127.0.0.1:${port}`, 'info'], { timeoutMs: 10_000 })).stdout;
      await waitFor('2 healthy engines', async () => ((await info()).match(/Status: Healthy/g)?.length === 2 ? true : undefined), 20_000, 200);
      const out = await info();
      expect(out).toContain(`fake-1: ${addrs[0]}`);
      expect(out).toContain(`fake-2: ${addrs[1]}`);
      await joins[1]!.stop();
      await waitFor('entry expired', async () => ((await info()).includes('Nodes: 1') ? true : undefined), 20_000, 300);
      expect(manager.log()).toContain(`Engine left discovery, removed name=fake-2 addr=${addrs[1]}`);
    } finally {
      for (const p of procs.reverse()) await p.stop().catch(() => undefined);
      await Promise.all(fakes.map((f) => f.stop()));
    }
  }, 60_000);
});
