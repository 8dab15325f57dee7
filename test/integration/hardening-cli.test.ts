/**
 * Bad values that used to become something else: each is one line on stderr and a non-zero exit; the
 * manager's unix socket never replaces a file that is not a stale socket and is 0600 from the start.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SwarmBinary, waitFor } from '../helpers/swarm-bin';

const swarm = new SwarmBinary();
const work = mkdtempSync(join(tmpdir(), 'swarm-hardening-cli-'));
afterAll(() => {
  swarm.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('bad values are refused, not turned into something else', () => {
  const dir = join(work, 'a-directory');
  mkdirSync(dir);
  const cases: [string[], number, string][] = [
    [['manage', '-H', '127.0.0.1:0', '--heartbeat', '597h', 'nodes://127.0.0.1:1'], 2, 'invalid --heartbeat: 597h is too long (at most 596h31m23.647s)'],
    [['manage', '-H', '127.0.0.1:0', '--engine-refresh-max-interval', '597h', 'nodes://127.0.0.1:1'], 2, 'invalid --engine-refresh-max-interval: 597h is too long'],
    [['join', '--advertise', '10.0.0.1:2375', '--heartbeat', '1s', '--ttl', '600h', 'token://abc'], 2, 'invalid --ttl: 600h is too long'],
    [['manage', '-H', '127.0.0.1:0', '--replication-ttl', 'abc', 'nodes://127.0.0.1:1'], 2, 'invalid --replication-ttl: time: invalid duration abc'],
    [['manage', '-H', '127.0.0.1:0', 'file:///nonexistent/cluster'], 1, 'cannot read discovery file /nonexistent/cluster: ENOENT'],
    [['manage', '-H', '127.0.0.1:0', `file://${dir}`], 1, `discovery file ${dir} is not a regular file`],
    [['-v', 'extra'], 2, '--version takes no arguments, got "extra"'],
    [[''], 2, 'command  not found'],
    [['manage', '--help', '--bogus'], 2, 'flag provided but not defined: --bogus'],
    [['token-server', '--data-file', ''], 2, '--data-file must name a file'],
  ];
  for (const [args, code, text] of cases) {
    test(`swarm ${args.map((a) => (a === '' ? "''" : a)).join(' ')}`, async () => {
      const r = await swarm.run(args, { timeoutMs: 10_000 });
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code, stdout: '' });
      expect(r.stderr).toContain(text);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});

describe('the manager unix socket', () => {
  test('a regular file at the socket path is left alone', async () => {
    const file = join(work, 'keep.txt');
    writeFileSync(file, 'precious');
    const r = await swarm.run(['manage', '-H', `unix://${file}`, 'nodes://127.0.0.1:1'], { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`Error: cannot listen on unix://${file}: ${file} exists and is not a socket; remove it or choose another path`);
    expect(readFileSync(file, 'utf8')).toBe('precious');
  });

  test('a live socket is refused; a stale one (its manager killed) is reused; the socket is 0600', async () => {
    const sock = join(work, 'swarm.sock');
    const first = swarm.start(['manage', '-H', `unix://${sock}`, 'nodes://127.0.0.1:1']);
    await waitFor('socket', () => (existsSync(sock) ? true : undefined), 10_000, 50);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    const second = await swarm.run(['manage', '-H', `unix://${sock}`, 'nodes://127.0.0.1:1'], { timeoutMs: 10_000 });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('address already in use');
    await first.stop('SIGKILL');
    expect(existsSync(sock)).toBe(true); // left behind by kill -9
    const third = swarm.start(['manage', '-H', `unix://${sock}`, 'nodes://127.0.0.1:1']);
    const ping = await waitFor('ping over the reused socket', async () => {
      const r = await fetch('http://localhost/_ping', { unix: sock } as RequestInit).catch(() => undefined);
      return r?.ok ? r.text() : undefined;
    }, 10_000, 100);
    expect(ping).toBe('OK');
    await third.stop();
  });
});
