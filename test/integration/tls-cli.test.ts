/** `swarm manage` TLS flags as a command (no engines needed): v1's rules, one-line cert errors, exit codes. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, SwarmBinary, waitFor } from '../helpers/swarm-bin';

const bin = new SwarmBinary();
let dir = '';
const c = (name: string) => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarm-tls-cli-'));
  const r = spawnSync('bash', [resolve(import.meta.dir, '../../scripts/certs.sh'), dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`certs.sh: ${r.stderr}`);
});
afterAll(() => {
  bin.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('swarm manage TLS flags', () => {
  test('v1 flag rules: usage errors before anything starts', async () => {
    const cases: [string[], string][] = [
      [['--tls'], '--tlscert and --tlskey must be provided when using --tls'],
      [['--tlsverify', '--tlscert', 'c.pem', '--tlskey', 'k.pem'], '--tlscacert must be provided when using --tlsverify'],
      [['--tlscert', 'c.pem', '--tlskey', 'k.pem'], '--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify'],
      [['--tlscacert', 'ca.pem'], '--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify'],
    ];
    for (const [flags, message] of cases) {
      const r = await bin.run(['manage', ...flags, 'nodes://127.0.0.1:1']);
      expect({ flags, code: r.code, err: r.stderr.includes(message) }).toEqual({ flags, code: 2, err: true });
    }
  });

  test('mismatched or missing key: one line, exit 1', async () => {
    const r = await bin.run(['manage', '--tls', '--tlscert', c('server-cert.pem'), '--tlskey', c('client-key.pem'), '-H', '127.0.0.1:0', 'nodes://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`Couldn't load X509 key pair (${c('server-cert.pem')}, ${c('client-key.pem')}): private key does not match public key. Key encrypted?`);
    const missing = await bin.run(['manage', '--tls', '--tlscert', c('nope.pem'), '--tlskey', c('server-key.pem'), 'nodes://127.0.0.1:1']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`Couldn't load X509 key pair (${c('nope.pem')}, ${c('server-key.pem')}): open ${c('nope.pem')}: no such file or directory. Key encrypted?`);
    const ca = await bin.run(['manage', '--tlsverify', '--tlscacert', c('nope.pem'), '--tlscert', c('server-cert.pem'), '--tlskey', c('server-key.pem'), 'nodes://127.0.0.1:1']);
    expect(ca.code).toBe(1);
    expect(ca.stderr.trim().split('\n')).toHaveLength(1);
    expect(ca.stderr).toContain("Couldn't read CA certificate: open");
  });

  test('serves HTTPS with --tlsverify: client certificate required, plain HTTP gets nothing', async () => {
    const port = await freePort();
    const m = bin.start(['manage', '--tlsverify', '--tlscacert', c('ca.pem'), '--tlscert', c('server-cert.pem'), '--tlskey', c('server-key.pem'), '-H', `127.0.0.1:${port}`, 'nodes://127.0.0.1:1']);
    const curl = (args: string[]) => spawnSync('curl', ['-sS', '--max-time', '5', '--cacert', c('ca.pem'), ...args, `https://127.0.0.1:${port}/_ping`], { encoding: 'utf8' });
    await waitFor('HTTPS ping', () => (curl(['--cert', c('client-cert.pem'), '--key', c('client-key.pem')]).stdout === 'OK' ? true : undefined), 10_000, 100);
    expect(curl([]).status).not.toBe(0);
    expect(curl(['--cert', c('other-client-cert.pem'), '--key', c('other-client-key.pem')]).status).not.toBe(0);
    const plain = await fetch(`http://127.0.0.1:${port}/_ping`).then((r) => r.text()).catch(() => 'refused');
    expect(plain).not.toBe('OK');
    expect(m.log()).toContain('Listening for HTTPS');
    expect(await m.stop()).toBe(0);
  });
});
