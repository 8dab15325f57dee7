/**
 * `GET /metrics` of a manager over real engines, read with curl, on a mixed test bed (host 1 dockerd
 * 20.10, host 2 dockerd 26 refusing API < 1.44): values move after a create, a failed placement and an
 * engine kill; `--metrics-addr` moves the endpoint to a listener of its own; with `--tlsverify` it is
 * behind the same mutual TLS as the API.
 *
 * Run: TESTBED_ID=3 bun test test/integration/metrics.test.ts   (root; npm run build first)
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { killEngine, run, startEngine, testbedDown, testbedUp, type TestbedHost } from '../helpers/testbed';

const REPO = resolve(import.meta.dir, '../..');
const P = `mt${Date.now().toString(36)}`;

let bin: SwarmBinary;
let manager: RunningSwarm;
let separate: RunningSwarm | undefined;
let tls: RunningSwarm | undefined;
let host = '';
let hosts: TestbedHost[] = [];
let work = '';

function docker(args: string[], timeoutS = 60) {
  return run(['docker', '-H', host, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(args: string[]): Promise<string> {
  const r = await docker(args);
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout.trim();
}

async function curl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return run(['curl', '-sS', '--max-time', '10', ...args], { timeoutMs: 15_000 });
}

type Samples = Map<string, number>;

/** `curl <url>`: the exposition's samples, `name{labels}` → value; checks the content type. */
async function scrape(url = `${host.replace('tcp://', 'http://')}/metrics`, extra: string[] = []): Promise<Samples> {
  const r = await curl([...extra, '-D', '-', url]);
  if (r.code !== 0) throw new Error(`curl ${url}: ${r.stderr}`);
  // Headers end at the first blank line; the body has blank lines of its own (between families).
  const end = r.stdout.indexOf('\r\n\r\n');
  const head = r.stdout.slice(0, end);
  const body = r.stdout.slice(end + 4);
  expect(head).toMatch(/^HTTP\/1\.1 200/);
  expect(head.toLowerCase()).toContain('content-type: text/plain; version=0.0.4; charset=utf-8');
  const out: Samples = new Map();
  for (const line of body.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?) (\S+)$/.exec(line);
    if (!m) throw new Error(`not an exposition line: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const v = (m: Samples, key: string) => m.get(key) ?? 0;
const healthyCount = async () => (await docker(['info'], 15)).stdout.match(/Status: Healthy/g)?.length ?? 0;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-metrics-it-'));
  hosts = await testbedUp(2, { engines: { 2: '26' }, minApi: { 2: '1.44' } });
  bin = new SwarmBinary();
  host = `tcp://127.0.0.1:${await freePort()}`;
  manager = bin.start(['manage', '-H', host, '--engine-failure-retry', '2', '--engine-refresh-min-interval', '1s', '--engine-refresh-max-interval', '2s', `nodes://${hosts.map((h) => h.addr).join(',')}`]);
  await waitFor('2 healthy nodes', async () => ((await healthyCount()) === 2 ? true : undefined), 60_000, 300);
}, 600_000);

afterAll(async () => {
  for (const m of [manager, separate, tls]) await m?.stop();
  if (manager) writeFileSync(join(tmpdir(), 'swarm-metrics-it.log'), manager.log());
  bin?.cleanup();
  await testbedDown().catch(() => undefined);
  if (work) rmSync(work, { recursive: true, force: true });
}, 180_000);

describe('/metrics over real engines', () => {
  test('engines by state, CPUs and memory per node, role, the manager\'s own process', async () => {
    const m = await scrape();
    expect(v(m, 'swarm_engines{state="healthy"}')).toBe(2);
    expect(v(m, 'swarm_engines{state="unhealthy"}')).toBe(0);
    for (const n of ['node-1', 'node-2']) {
      expect(v(m, `swarm_node_cpus{node="${n}"}`)).toBeGreaterThan(0);
      expect(v(m, `swarm_node_memory_bytes{node="${n}"}`)).toBeGreaterThan(0);
      expect(m.has(`swarm_containers{node="${n}",state="running"}`)).toBe(true);
    }
    expect(v(m, 'swarm_manager_role{role="primary"}')).toBe(1);
    expect(v(m, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  test('a create moves the placement counters, the node\'s containers and reservations, the request counters', async () => {
    const before = await scrape();
    await ok(['run', '-d', '--name', `${P}-a`, '-m', '64m', '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600']);
    const after = await waitFor('node-2 running +1', async () => {
      const m = await scrape();
      return v(m, 'swarm_containers{node="node-2",state="running"}') === v(before, 'swarm_containers{node="node-2",state="running"}') + 1 ? m : undefined;
    }, 15_000, 300);
    const d = (k: string) => v(after, k) - v(before, k);
    expect(d('swarm_scheduling_attempts_total{result="placed"}')).toBe(1);
    expect(d('swarm_scheduling_duration_seconds_count')).toBe(1);
    expect(d('swarm_node_reserved_memory_bytes{node="node-2"}')).toBe(64 * 1024 ** 2);
    expect(d('swarm_node_reserved_memory_bytes{node="node-1"}')).toBe(0);
    // docker run -d = create + start: both counted with their route and status.
    expect(d('swarm_api_requests_total{class="containers",route="/containers/create",method="POST",status="201"}')).toBe(1);
    expect(d('swarm_api_requests_total{class="containers",route="/containers/:name/start",method="POST",status="204"}')).toBe(1);
    expect(d('swarm_api_request_duration_seconds_count{class="containers",route="/containers/create",method="POST"}')).toBe(1);
  }, 60_000);

  test('a failed placement counts as a failure with its reason', async () => {
    const before = await scrape();
    const r = await docker(['run', '-d', '--name', `${P}-no`, '-e', 'constraint:node==nowhere', 'busybox', 'true']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Unable to find a node that satisfies the following conditions');
    const after = await scrape();
    expect(v(after, 'swarm_scheduling_failures_total{reason="constraint"}') - v(before, 'swarm_scheduling_failures_total{reason="constraint"}')).toBe(1);
    expect(v(after, 'swarm_scheduling_attempts_total{result="failed"}') - v(before, 'swarm_scheduling_attempts_total{result="failed"}')).toBe(1);
    expect(v(after, 'swarm_api_requests_total{class="containers",route="/containers/create",method="POST",status="500"}')).toBeGreaterThanOrEqual(1);
  }, 60_000);

  test('an engine kill: unhealthy, call errors counted; back: healthy, its event stream reopened', async () => {
    const before = await scrape();
    await killEngine(1);
    const down = await waitFor('node-1 unhealthy in /metrics', async () => {
      const m = await scrape();
      return v(m, 'swarm_engines{state="unhealthy"}') === 1 ? m : undefined;
    }, 30_000, 300);
    expect(v(down, 'swarm_engines{state="healthy"}')).toBe(1);
    expect(v(down, 'swarm_engine_call_errors_total{node="node-1",kind="connection"}')).toBeGreaterThan(v(before, 'swarm_engine_call_errors_total{node="node-1",kind="connection"}'));
    await startEngine(1);
    const up = await waitFor('node-1 healthy and its stream reopened', async () => {
      const m = await scrape();
      return v(m, 'swarm_engines{state="healthy"}') === 2 && v(m, 'swarm_engine_event_stream_reconnects_total{node="node-1"}') > v(before, 'swarm_engine_event_stream_reconnects_total{node="node-1"}') ? m : undefined;
    }, 90_000, 500);
    expect(v(up, 'swarm_engines{state="unhealthy"}')).toBe(0);
    expect(v(up, 'swarm_event_history_events')).toBeGreaterThan(v(before, 'swarm_event_history_events'));
  }, 240_000);

  test('--metrics-addr: /metrics on its own listener, not on -H', async () => {
    const api = `127.0.0.1:${await freePort()}`;
    const metricsAddr = `127.0.0.1:${await freePort()}`;
    separate = bin.start(['manage', '-H', `tcp://${api}`, '--metrics-addr', metricsAddr, `nodes://${hosts.map((h) => h.addr).join(',')}`]);
    const m = await waitFor('metrics listener', async () => {
      try {
        const s = await scrape(`http://${metricsAddr}/metrics`);
        return v(s, 'swarm_engines{state="healthy"}') === 2 ? s : undefined;
      } catch {
        return undefined;
      }
    }, 60_000, 300);
    expect(v(m, 'swarm_containers{node="node-2",state="running"}')).toBeGreaterThanOrEqual(1);
    const onApi = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://${api}/metrics`]);
    expect(onApi.stdout).toBe('404');
    const other = await curl(['-o', '/dev/null', '-w', '%{http_code}', `http://${metricsAddr}/info`]);
    expect(other.stdout).toBe('404');
  }, 90_000);

  test('with --tlsverify, /metrics needs a client certificate of the CA', async () => {
    const certs = join(work, 'certs');
    const c = (f: string) => join(certs, f);
    const made = await run(['bash', join(REPO, 'scripts/certs.sh'), certs, '127.0.0.1'], { timeoutMs: 60_000 });
    expect(made.code).toBe(0);
    const port = await freePort();
    tls = bin.start(['manage', '--tlsverify', '--tlscacert', c('ca.pem'), '--tlscert', c('server-cert.pem'), '--tlskey', c('server-key.pem'), '-H', `tcp://127.0.0.1:${port}`, `nodes://${hosts.map((h) => h.addr).join(',')}`]);
    const url = `https://127.0.0.1:${port}/metrics`;
    const withCert = ['--cacert', c('ca.pem'), '--cert', c('client-cert.pem'), '--key', c('client-key.pem')];
    const m = await waitFor('HTTPS /metrics', async () => {
      try {
        return await scrape(url, withCert);
      } catch {
        return undefined;
      }
    }, 20_000, 300);
    // Plain-HTTP engines cannot pass a TLS manager's validation: they stay Pending.
    expect(v(m, 'swarm_engines{state="pending"}')).toBe(2);
    expect((await curl(['--cacert', c('ca.pem'), url])).code).not.toBe(0);
    expect((await curl([url.replace('https', 'http')])).code).not.toBe(0);
  }, 90_000);
});
