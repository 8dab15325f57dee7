/**
 * The compiled binary, run from a directory with no node_modules: token-server, create, join, list,
 * file:// and nodes://, error handling.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';

const swarm = new SwarmBinary();
const work = mkdtempSync(join(tmpdir(), 'swarm-disc-'));
const dataFile = join(work, 'tokens.json');
let port = 0;
let base = '';
let server: RunningSwarm | undefined;
const running: RunningSwarm[] = [];

function startServer(): RunningSwarm {
  const s = swarm.start(['token-server', '-H', `127.0.0.1:${port}`, '--data-file', dataFile]);
  running.push(s);
  return s;
}

async function serverUp(): Promise<void> {
  await waitFor('token server', async () => ((await fetch(`${base}/clusters/none`).catch(() => undefined)) ? true : undefined));
}

async function list(token: string): Promise<string[]> {
  const r = await swarm.run(['list', '--discovery-url', base, `token://${token}`]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

beforeAll(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}/v1`;
  server = startServer();
  await serverUp();
});

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop('SIGKILL')));
  swarm.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('global CLI', () => {
  test('--help lists the commands', async () => {
    const r = await swarm.run(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of ['create', 'join', 'list', 'token-server']) expect(r.stdout).toContain(cmd);
  });
  test('--version prints the version', async () => {
    const r = await swarm.run(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^swarm version \d+\.\d+\.\d+ \([0-9a-f]{7,}\)\n$/);
  });
  test('help, -h and -v work as in v1', async () => {
    const help = await swarm.run(['help', 'list']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--timeout');
    expect((await swarm.run(['list', '-h'])).stdout).toBe(help.stdout);
    expect((await swarm.run(['-v'])).stdout).toStartWith('swarm version ');
  });
  test('command help explains flags and discovery URL forms', async () => {
    const r = await swarm.run(['join', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--advertise');
    expect(r.stdout).toContain('--heartbeat');
    expect(r.stdout).toContain('nodes://10.0.0.[10:20]:2375');
    expect(r.stdout).toContain('file:///path/to/file');
    expect(r.stdout).toContain('--log-level');
  });
  test('errors are one line with no stack trace and a non-zero exit', async () => {
    const cases: [string[], string, number][] = [
      [['join', 'token://abc'], 'missing mandatory --advertise flag', 2],
      [['join', '--advertise', '10.0.0.1', 'token://abc'], '--advertise should be of the form ip:port or hostname:port', 2],
      [['join', '--advertise', '10.0.0.1:2375', '--heartbeat', '500ms', 'token://abc'], '--heartbeat should be at least one second', 2],
      [['join', '--advertise', '10.0.0.1:2375', '--heartbeat', '5s', '--ttl', '5s', 'token://abc'], '--ttl must be strictly superior to the heartbeat value', 2],
      [['join', '--advertise', '10.0.0.1:2375', '--discovery-opt', 'bad', 'token://abc'], '--discovery-opt must contain key=value strings', 2],
      [['join', '--advertise', '10.0.0.1:2375'], "discovery required to join a cluster. See 'swarm join --help'.", 2],
      [['join', '--advertise', '10.0.0.1:2375', 'nodes://10.0.0.1:2375'], 'engines need no join', 1],
      [['join', '--advertise', '10.0.0.1:2375', `file://${work}/x`], 'file:// discovery needs no join', 1],
      [['list', 'nodes://10.0.0.[5:1]:2375'], 'start is greater than end', 1],
      [['list', '10.0.0.1'], 'missing port in address, please check you are using the correct discovery (missing token:// ?)', 1],
      [['list', 'garbage://x'], 'unsupported discovery scheme', 1],
      [['list', '--timeout', 'soon', 'nodes://a:1'], 'invalid --timeout: time: invalid duration soon', 2],
      [['list', '--discovery-url', 'http://127.0.0.1:1/v1', 'token://abc'], 'cannot reach the token discovery service at http://127.0.0.1:1/v1: connection refused', 1],
      [['create', '--discovery-url', 'http://127.0.0.1:1/v1'], 'cannot reach the token discovery service', 1],
      [['list', '--discovery-url', 'BAD', 'token://abc'], 'invalid discovery service URL "BAD"', 1],
      [['nosuchcommand'], 'command nosuchcommand not found', 2],
    ];
    for (const [args, message, code] of cases) {
      const r = await swarm.run(args);
      expect({ args, code: r.code }).toEqual({ args, code });
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect({ args, lines: lines.length }).toEqual({ args, lines: 1 });
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/\n\s+at |\.ts:\d+|\.js:\d+/);
    }
  });
  test('SWARM_DISCOVERY supplies the discovery URL', async () => {
    const r = await swarm.run(['list'], { env: { SWARM_DISCOVERY: 'nodes://10.0.0.[1:2]:2375' } });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('10.0.0.1:2375\n10.0.0.2:2375\n');
  });
  test('the binary ignores .env and bunfig.toml in the current directory', async () => {
    const cwd = join(work, 'with-dotfiles');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, '.env'), 'SWARM_DISCOVERY=nodes://9.9.9.9:1\n');
    writeFileSync(join(cwd, 'bunfig.toml'), 'preload = ["./does-not-exist.ts"]\n');
    const r = await swarm.run(['list'], { cwd });
    expect(r.stderr).toContain("discovery required to list a cluster. See 'swarm list --help'.");
    expect(r.code).toBe(2);
  });
});

describe('nodes:// and file://', () => {
  test('list prints one host:port a line, ranges expanded', async () => {
    const r = await swarm.run(['list', 'nodes://10.0.0.[9:10]:2375,127.0.0.1:[2375:2376]']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('10.0.0.9:2375\n10.0.0.10:2375\n127.0.0.1:2375\n127.0.0.1:2376\n');
  });
  test('file:// edits are picked up', async () => {
    const file = join(work, 'cluster.txt');
    writeFileSync(file, '# hosts\n10.0.0.1:2375\n');
    expect((await swarm.run(['list', `file://${file}`])).stdout).toBe('10.0.0.1:2375\n');
    writeFileSync(file, '# hosts\n10.0.0.1:2375\n10.0.0.[2:3]:2375 # more\n');
    expect((await swarm.run(['list', `file://${file}`])).stdout).toBe('10.0.0.1:2375\n10.0.0.2:2375\n10.0.0.3:2375\n');
  });
});

describe('token discovery end to end', () => {
  let token = '';
  const joins = new Map<string, RunningSwarm>();
  const addrs = ['10.1.0.1:2375', '10.1.0.2:2375', '10.1.0.3:2375'];

  test('create prints a 32-hex token on stdout only', async () => {
    const r = await swarm.run(['create', '--discovery-url', base]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^[0-9a-f]{32}\n$/);
    token = r.stdout.trim();
    expect(await list(token)).toEqual([]);
  });

  test('three joins with --heartbeat 1s --ttl 3s all show in list', async () => {
    for (const addr of addrs) {
      const j = swarm.start(['join', '--advertise', addr, '--heartbeat', '1s', '--ttl', '3s', `token://${token}`], {
        env: { SWARM_DISCOVERY_URL: base },
      });
      running.push(j);
      joins.set(addr, j);
    }
    const seen = await waitFor('three entries', async () => {
      const nodes = await list(token);
      return nodes.length === 3 ? nodes : undefined;
    });
    expect(seen).toEqual(addrs);
    expect(joins.get(addrs[0]!)!.log()).toContain('Registering on the discovery service');
  });

  test('a stopped join exits cleanly and list drops it within the TTL', async () => {
    const victim = joins.get(addrs[1]!)!;
    expect(await victim.stop('SIGTERM')).toBe(0);
    const stoppedAt = Date.now();
    expect(victim.log()).toContain('Stopped registering');
    await waitFor('entry to expire', async () => ((await list(token)).includes(addrs[1]!) ? undefined : true), 6000);
    expect(Date.now() - stoppedAt).toBeLessThan(4500);
    expect(await list(token)).toEqual([addrs[0]!, addrs[2]!]);
  });

  test('SIGINT also stops a join cleanly', async () => {
    const j = swarm.start(['join', '--advertise', '10.1.0.9:2375', '--heartbeat', '1s', '--ttl', '3s', '--discovery-url', base, `token://${token}`]);
    running.push(j);
    await waitFor('registration', async () => ((await list(token)).includes('10.1.0.9:2375') ? true : undefined));
    expect(await j.stop('SIGINT')).toBe(0);
  });

  test('the cluster survives a restart of the token server', async () => {
    expect(await server!.stop('SIGTERM')).toBe(0);
    expect(server!.log()).toContain('Token discovery service stopped');
    server = startServer();
    await serverUp();
    expect(await list(token)).toContain(addrs[0]!);
    expect(await list(token)).toContain(addrs[2]!);
    // The joins kept running through the outage and still refresh their entries.
    await Bun.sleep(3500);
    expect(await list(token)).toEqual([addrs[0]!, addrs[2]!]);
  });

  test('the v1 inline form token://host:port/v1/<token> works', async () => {
    const r = await swarm.run(['list', `token://127.0.0.1:${port}/v1/${token}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${addrs[0]}\n${addrs[2]}\n`);
  });

  test('an unknown token is a clear error', async () => {
    const r = await swarm.run(['list', '--discovery-url', base, 'token://0123456789abcdef0123456789abcdef']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Failed to fetch entries, Discovery service returned 404 HTTP status code: unknown cluster token');
  });
});

describe('swarm list output', () => {
  test('plain when piped; --format table shows each engine with its name, state and version, coloured unless NO_COLOR', async () => {
    const { createServer } = await import('node:http');
    const fake = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ Name: 'engine-a', ServerVersion: '26.1.5' }));
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', () => r()));
    const up = `127.0.0.1:${(fake.address() as { port: number }).port}`;
    const down = `127.0.0.1:${await freePort()}`;
    try {
      const plain = await swarm.run(['list', `nodes://${up},${down}`]);
      expect(plain.stdout).toBe([up, down].sort().join('\n') + '\n');
      const table = await swarm.run(['list', '--format', 'table', `nodes://${up},${down}`]);
      const lines = table.stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(/^ADDRESS +NAME +ENGINE +VERSION$/);
      expect(lines.find((l) => l.startsWith(up))).toMatch(new RegExp(`^${up} +engine-a +answers +26\\.1\\.5$`));
      expect(lines.find((l) => l.startsWith(down))).toMatch(/ +- +unreachable +-$/);
      const coloured = await swarm.run(['list', '--format', 'table', `nodes://${up}`], { env: { NO_COLOR: '', FORCE_COLOR: '1' } });
      expect(coloured.stdout).toContain('\x1b[32manswers\x1b[39m');
      const uncoloured = await swarm.run(['list', '--format', 'table', `nodes://${up}`], { env: { NO_COLOR: '1', FORCE_COLOR: '1' } });
      expect(uncoloured.stdout).not.toContain('\x1b[');
    } finally {
      fake.close();
    }
  });
});

describe('token server protocol', () => {
  test('bad requests get a 4xx with a message and the server keeps serving', async () => {
    const token = (await (await fetch(`${base}/clusters`, { method: 'POST' })).text()).trim();
    const cases: [string, RequestInit, number, string][] = [
      [`/clusters/${token}?ttl=abc`, { method: 'POST', body: '10.0.0.1:2375' }, 400, 'invalid ttl'],
      [`/clusters/${token}?ttl=0`, { method: 'POST', body: '10.0.0.1:2375' }, 400, 'invalid ttl'],
      [`/clusters/${token}?ttl=10`, { method: 'POST', body: 'not an address' }, 400, 'invalid entry'],
      [`/clusters/${token}?ttl=10`, { method: 'POST', body: 'x'.repeat(10_000) }, 413, 'larger than'],
      [`/clusters/ffff?ttl=10`, { method: 'POST', body: '10.0.0.1:2375' }, 404, 'unknown cluster token'],
      [`/clusters`, { method: 'GET' }, 405, 'not allowed'],
      [`/clusters/${token}`, { method: 'PUT' }, 405, 'not allowed'],
      [`/nowhere`, { method: 'GET' }, 404, 'no such route'],
      [`/clusters/%zz`, { method: 'GET' }, 400, 'malformed escape'],
      [`/clusters/`, { method: 'POST' }, 404, 'no such route'],
    ];
    for (const [path, init, status, text] of cases) {
      const res = await fetch(`${base}${path}`, init).catch((err: Error) => ({ status: 0, text: async () => err.message }));
      expect({ path, status: res.status }).toEqual({ path, status });
      expect(await res.text()).toContain(text);
    }
    const ok = await fetch(`${base}/clusters/${token}?ttl=10`, { method: 'POST', body: '10.0.0.1:2375' });
    expect(ok.status).toBe(200);
    expect(await (await fetch(`${base}/clusters/${token}`)).json()).toEqual(['10.0.0.1:2375']);
    expect((await fetch(`${base}/clusters/${token}`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${base}/clusters/${token}`)).status).toBe(404);
  });

  test('a malformed request target is a 400, not a crash', async () => {
    const { connect } = await import('node:net');
    const answer = await new Promise<string>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => s.write('GET http://[::1/v1/clusters HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      let buf = '';
      s.on('data', (d) => (buf += d.toString()));
      s.on('end', () => resolve(buf));
      s.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect((await fetch(`${base}/clusters`, { method: 'POST' })).status).toBe(200);
  });

  test('an empty --data-file is refused', async () => {
    const r = await swarm.run(['token-server', '-H', `127.0.0.1:${await freePort()}`, '--data-file', '']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("Error: --data-file must name a file (use --memory to keep nothing) (see 'swarm token-server --help')");
  });

  test('a second server on the same address fails with one clear line', async () => {
    const r = await swarm.run(['token-server', '-H', `127.0.0.1:${port}`, '--memory']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`Error: cannot listen on tcp://127.0.0.1:${port}: address already in use`);
  });

  test('a corrupt data file stops the server with a clear error', async () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, 'garbage');
    const r = await swarm.run(['token-server', '-H', `127.0.0.1:${await freePort()}`, '--data-file', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`data file ${bad} is not a token-server data file`);
  });
});
