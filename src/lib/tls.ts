/**
 * TLS for `swarm manage` (spec §7): the flag rules of v1 (§1.4), loading and checking the cert
 * material with v1's one-line errors, and the options for both sides. As in v1 one configuration
 * serves both: the manager's listeners present --tlscert/--tlskey (and with --tlsverify require a
 * client certificate signed by --tlscacert), and the manager presents the same certificate as a
 * client to the engines, verifying theirs against the CA only with --tlsverify.
 *
 * Engine certificates are checked against the host part of the engine's address (IP SANs for IPs).
 * Bun refuses an IP address as explicit `servername`, but verifies the IP SAN by itself when the
 * connect host is an IP and no servername is given, so a servername is only set for DNS names.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions, SecureVersion, TlsOptions } from 'node:tls';
import { UserError, errorMessage } from './errors';

/** v1: TLS 1.2 minimum (1.2.9). */
const TLS_MIN_VERSION: SecureVersion = 'TLSv1.2';

export interface TlsFlags {
  tls: boolean;
  tlsverify: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

/** The checked flags: which files to load, or undefined when TLS is off. */
export interface TlsPaths {
  verify: boolean;
  cert: string;
  key: string;
  /** Only read with verify (v1 ignores --tlscacert with --tls alone). */
  ca?: string;
}

/** v1's rules for the TLS flags of `manage` (messages of cli/manage.go). */
export function checkTlsFlags(f: TlsFlags): TlsPaths | undefined {
  if (f.tls || f.tlsverify) {
    if (!f.tlscert || !f.tlskey) throw new UserError('--tlscert and --tlskey must be provided when using --tls', 2);
    if (f.tlsverify && !f.tlscacert) throw new UserError('--tlscacert must be provided when using --tlsverify', 2);
    return { verify: f.tlsverify, cert: f.tlscert, key: f.tlskey, ca: f.tlsverify ? f.tlscacert : undefined };
  }
  if (f.tlscert || f.tlskey || f.tlscacert) {
    throw new UserError('--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify', 2);
  }
  return undefined;
}

/** Loaded, checked cert material. */
export interface TlsMaterial {
  verify: boolean;
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

function readOrThrow(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new Error(`open ${path}: no such file or directory`);
    if (e.code === 'EACCES') throw new Error(`open ${path}: permission denied`);
    if (e.code === 'EISDIR') throw new Error(`read ${path}: is a directory`);
    throw new Error(`open ${path}: ${errorMessage(err)}`);
  }
}

/** The certificate and key, checked to be a pair; throws v1's "Couldn't load X509 key pair" error. */
function loadKeyPair(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  try {
    const cert = readOrThrow(certPath);
    const key = readOrThrow(keyPath);
    if (!cert.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new Error('failed to find any PEM data in certificate input');
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) throw new Error('failed to find any PEM data in key input');
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(cert);
    } catch (err) {
      throw new Error(`failed to parse certificate: ${errorMessage(err)}`);
    }
    let pk: ReturnType<typeof createPrivateKey>;
    try {
      pk = createPrivateKey(key);
    } catch (err) {
      throw new Error(`failed to parse private key: ${errorMessage(err)}`);
    }
    if (!x509.checkPrivateKey(pk)) throw new Error('private key does not match public key');
    return { cert, key };
  } catch (err) {
    throw new UserError(`Couldn't load X509 key pair (${certPath}, ${keyPath}): ${oneLine(errorMessage(err))}. Key encrypted?`);
  }
}

function loadCa(path: string): Buffer {
  let ca: Buffer;
  try {
    ca = readOrThrow(path);
  } catch (err) {
    throw new UserError(`Couldn't read CA certificate: ${oneLine(errorMessage(err))}`);
  }
  try {
    new X509Certificate(ca);
  } catch (err) {
    throw new UserError(`Couldn't read CA certificate: ${path}: no PEM certificate in it (${oneLine(errorMessage(err))})`);
  }
  return ca;
}

/** Reads and checks the files named by checkTlsFlags; one-line UserErrors (exit 1). */
export function loadTlsMaterial(p: TlsPaths): TlsMaterial {
  const { cert, key } = loadKeyPair(p.cert, p.key);
  const ca = p.verify && p.ca ? loadCa(p.ca) : undefined;
  return { verify: p.verify, cert, key, ca };
}

/** Options for node:https / node:tls servers (the manager's listeners). */
export function serverTlsOptions(m: TlsMaterial): TlsOptions {
  return {
    cert: m.cert,
    key: m.key,
    minVersion: TLS_MIN_VERSION,
    ALPNProtocols: ['http/1.1'],
    ...(m.verify ? { ca: m.ca, requestCert: true, rejectUnauthorized: true } : { requestCert: false, rejectUnauthorized: false }),
  };
}

/**
 * The client side of a TLS connection: verify the peer against `ca` (the system CAs without one)
 * only with `verify`; present `cert`/`key` when given.
 */
export interface ClientTls {
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** Client side towards engines: the manager's certificate, engine verification only with --tlsverify. */
export interface EngineTls extends ClientTls {
  cert: Buffer;
  key: Buffer;
}

export function engineTls(m: TlsMaterial): EngineTls {
  return { cert: m.cert, key: m.key, ca: m.ca, verify: m.verify };
}

/** Options for https.request / tls.connect to a peer (an engine, a manager, a service) at `host`. */
export function clientTlsOptions(t: ClientTls, host: string): ConnectionOptions {
  return {
    cert: t.cert,
    key: t.key,
    minVersion: TLS_MIN_VERSION,
    ALPNProtocols: ['http/1.1'],
    ...(t.verify ? { ca: t.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
    // Bun throws on an IP servername; for IPs it checks the IP SANs against the connect host itself.
    ...(isIP(host) ? {} : { servername: host }),
  };
}

const CERT_NOT_TRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
]);

/**
 * A TLS failure towards an engine, said so, with a hint at the usual cause; other errors unchanged.
 * The error's code is kept (health accounting looks at it).
 */
export function explainEngineTlsError(err: unknown, addr: string): unknown {
  if (!(err instanceof Error)) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const msg = err.message;
  let hint = '';
  if (CERT_NOT_TRUSTED.has(code) || /unable to verify|self.signed|unknown authority|issuer certificate/i.test(msg)) {
    hint = "the engine's certificate is not signed by --tlscacert";
  } else if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || /altname|does not match certificate/i.test(msg)) {
    hint = "the engine's certificate does not name this address: it needs a matching IP/DNS subjectAltName";
  } else if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID' || /expired|not yet valid/i.test(msg)) {
    hint = "the engine's certificate is outside its validity period";
  } else if (/certificate required|unknown ca|bad certificate|certificate unknown|ALERT_(CERTIFICATE|UNKNOWN_CA|BAD_CERT)/i.test(`${code} ${msg}`)) {
    hint = "the engine refused this manager's certificate: is it signed by the engine's --tlscacert?";
  } else if (/wrong version number|packet length too long|WRONG_VERSION|record layer|http request/i.test(`${code} ${msg}`)) {
    hint = 'the engine does not speak TLS on this port (plain Docker port 2375?)';
  } else {
    return err;
  }
  const out = new Error(`TLS handshake with engine ${addr} failed: ${oneLine(msg)} (${hint})`) as NodeJS.ErrnoException;
  if (code) out.code = code;
  return out;
}
