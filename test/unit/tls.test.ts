/** TLS flag rules (spec §1.4), cert loading errors (§7), option building and engine TLS errors. */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkTlsFlags, clientTlsOptions, engineTls, explainEngineTlsError, loadTlsMaterial, serverTlsOptions } from '../../src/lib/tls';
import { planManage, type ManageInput } from '../../src/lib/manager/plan';
import { manageInput } from '../helpers/manage-input';
import { UserError } from '../../src/lib/errors';

let dir = '';
const f = (name: string) => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'swarm-tls-unit-'));
  const r = spawnSync('bash', [resolve(import.meta.dir, '../../scripts/certs.sh'), dir, '10.1.2.3'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`certs.sh failed: ${r.stderr}`);
  spawnSync('openssl', ['rsa', '-in', f('client-key.pem'), '-aes256', '-passout', 'pass:secret', '-out', f('encrypted-key.pem')]);
  writeFileSync(f('garbage.pem'), 'not a pem file\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function userError(fn: () => unknown): UserError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('v1 flag rules', () => {
  test('off without any flag', () => {
    expect(checkTlsFlags({ tls: false, tlsverify: false })).toBeUndefined();
  });
  test('--tls / --tlsverify need cert and key; --tlsverify needs the CA', () => {
    expect(userError(() => checkTlsFlags({ tls: true, tlsverify: false })).message).toBe('--tlscert and --tlskey must be provided when using --tls');
    expect(userError(() => checkTlsFlags({ tls: false, tlsverify: true, tlscert: 'c' })).message).toBe('--tlscert and --tlskey must be provided when using --tls');
    expect(userError(() => checkTlsFlags({ tls: false, tlsverify: true, tlscert: 'c', tlskey: 'k' })).message).toBe('--tlscacert must be provided when using --tlsverify');
  });
  test('cert flags without --tls/--tlsverify are refused', () => {
    for (const extra of [{ tlscert: 'c' }, { tlskey: 'k' }, { tlscacert: 'ca' }]) {
      expect(userError(() => checkTlsFlags({ tls: false, tlsverify: false, ...extra })).message).toBe(
        '--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify',
      );
    }
  });
  test('--tls alone ignores --tlscacert (v1: no verification)', () => {
    expect(checkTlsFlags({ tls: true, tlsverify: false, tlscert: 'c', tlskey: 'k', tlscacert: 'ca' })).toEqual({ verify: false, cert: 'c', key: 'k', ca: undefined });
    expect(checkTlsFlags({ tls: true, tlsverify: true, tlscert: 'c', tlskey: 'k', tlscacert: 'ca' })).toEqual({ verify: true, cert: 'c', key: 'k', ca: 'ca' });
  });
});

describe('loading cert material', () => {
  test('a good pair and CA', () => {
    const m = loadTlsMaterial({ verify: true, cert: f('server-cert.pem'), key: f('server-key.pem'), ca: f('ca.pem') });
    expect(m.verify).toBe(true);
    expect(m.ca?.toString()).toContain('BEGIN CERTIFICATE');
  });
  test('v1 one-line errors, exit code 1', () => {
    const cases: [string, string, string, string][] = [
      ['server-cert.pem', 'client-key.pem', 'ca.pem', 'private key does not match public key. Key encrypted?'],
      ['client-cert.pem', 'encrypted-key.pem', 'ca.pem', '. Key encrypted?'],
      ['missing.pem', 'server-key.pem', 'ca.pem', `open ${f('missing.pem')}: no such file or directory. Key encrypted?`],
      ['garbage.pem', 'server-key.pem', 'ca.pem', 'failed to find any PEM data in certificate input. Key encrypted?'],
      ['server-cert.pem', 'garbage.pem', 'ca.pem', 'failed to find any PEM data in key input. Key encrypted?'],
    ];
    for (const [cert, key, ca, tail] of cases) {
      const e = userError(() => loadTlsMaterial({ verify: true, cert: f(cert), key: f(key), ca: f(ca) }));
      expect(e.exitCode).toBe(1);
      expect(e.message.startsWith(`Couldn't load X509 key pair (${f(cert)}, ${f(key)}): `)).toBe(true);
      expect(e.message.endsWith(tail)).toBe(true);
      expect(e.message).not.toContain('\n');
    }
    const ca = userError(() => loadTlsMaterial({ verify: true, cert: f('server-cert.pem'), key: f('server-key.pem'), ca: f('missing.pem') }));
    expect(ca.message).toBe(`Couldn't read CA certificate: open ${f('missing.pem')}: no such file or directory`);
    const bad = userError(() => loadTlsMaterial({ verify: true, cert: f('server-cert.pem'), key: f('server-key.pem'), ca: f('garbage.pem') }));
    expect(bad.message).toStartWith("Couldn't read CA certificate: ");
  });
  test('planManage applies the rules and loads the files', () => {
    const base: ManageInput = manageInput({ discoveryUrl: 'nodes://10.0.0.1:2376' });
    expect(planManage(base).tls).toBeUndefined();
    expect(() => planManage({ ...base, tlscert: f('server-cert.pem') })).toThrow('require the use of either --tls or --tlsverify');
    const p = planManage({ ...base, tlsverify: true, tlscacert: f('ca.pem'), tlscert: f('server-cert.pem'), tlskey: f('server-key.pem') });
    expect(p.tls?.verify).toBe(true);
    expect(() => planManage({ ...base, tls: true, tlscert: f('server-cert.pem'), tlskey: f('client-key.pem') })).toThrow("Couldn't load X509 key pair");
  });
});

describe('options', () => {
  test('server: TLS 1.2 minimum; client certificates required only with --tlsverify', () => {
    const verify = serverTlsOptions(loadTlsMaterial({ verify: true, cert: f('server-cert.pem'), key: f('server-key.pem'), ca: f('ca.pem') }));
    expect(verify).toMatchObject({ minVersion: 'TLSv1.2', requestCert: true, rejectUnauthorized: true });
    const plain = serverTlsOptions(loadTlsMaterial({ verify: false, cert: f('server-cert.pem'), key: f('server-key.pem') }));
    expect(plain).toMatchObject({ minVersion: 'TLSv1.2', requestCert: false, rejectUnauthorized: false });
  });
  test('client: no servername for IPs (bun refuses one), DNS names as servername; verification only with --tlsverify', () => {
    const t = engineTls(loadTlsMaterial({ verify: true, cert: f('server-cert.pem'), key: f('server-key.pem'), ca: f('ca.pem') }));
    expect(clientTlsOptions(t, '10.1.2.3').servername).toBeUndefined();
    expect(clientTlsOptions(t, 'node1.example').servername).toBe('node1.example');
    expect(clientTlsOptions(t, '10.1.2.3').rejectUnauthorized).toBe(true);
    expect(clientTlsOptions({ ...t, verify: false }, '10.1.2.3').rejectUnauthorized).toBe(false);
  });
});

describe('engine TLS errors', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });
  test('unknown CA, name mismatch, refused client cert, plain port', () => {
    const e1 = explainEngineTlsError(withCode('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'), '10.1.2.3:2376') as NodeJS.ErrnoException;
    expect(e1.message).toBe("TLS handshake with engine 10.1.2.3:2376 failed: unable to verify the first certificate (the engine's certificate is not signed by --tlscacert)");
    expect(e1.code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    const e2 = explainEngineTlsError(withCode("Hostname/IP does not match certificate's altnames", 'ERR_TLS_CERT_ALTNAME_INVALID'), 'h:2376') as Error;
    expect(e2.message).toContain('subjectAltName');
    const e3 = explainEngineTlsError(new Error('error:10000412:SSL routines:OPENSSL_internal:SSLV3_ALERT_BAD_CERTIFICATE'), 'h:2376') as Error;
    expect(e3.message).toContain("the engine refused this manager's certificate");
    const e4 = explainEngineTlsError(new Error('error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER'), 'h:2375') as Error;
    expect(e4.message).toContain('does not speak TLS');
  });
  test('other errors are left alone', () => {
    const e = withCode('connect ECONNREFUSED 10.1.2.3:2376', 'ECONNREFUSED');
    expect(explainEngineTlsError(e, '10.1.2.3:2376')).toBe(e);
  });
});
