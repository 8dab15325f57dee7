/**
 * `--discovery-opt kv.cacertfile/kv.certfile/kv.keyfile`: TLS with client certificates to etcd (real,
 * with --client-cert-auth) and to Consul (the emulator over HTTPS, requiring client certificates).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, rmSync } from 'node:fs';
import type { KVDiscovery } from '../../src/lib/discovery/kv';
import { createDiscovery } from '../../src/lib/discovery/registry';
import type { DiscoveryConfig, WatchEvent } from '../../src/lib/discovery/types';
import { startConsulEmulator, type ConsulEmulator } from '../consul-emulator/server';
import { EventLog, makeTestCerts, startEtcd, type KVServer, type TestCerts } from '../helpers/kv-servers';

let certs: TestCerts;
let etcd: KVServer;
let consul: ConsulEmulator;

beforeAll(async () => {
  certs = makeTestCerts();
  etcd = await startEtcd({ tls: certs });
  consul = await startConsulEmulator({ tls: { key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert), ca: readFileSync(certs.ca) } });
}, 120_000);

afterAll(async () => {
  await etcd?.destroy();
  await consul?.stop();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
});

function tlsConfig(): DiscoveryConfig {
  return {
    heartbeatMs: 1000,
    ttlMs: 3000,
    options: { 'kv.cacertfile': certs.ca, 'kv.certfile': certs.clientCert, 'kv.keyfile': certs.clientKey },
  };
}

describe('KV discovery over TLS', () => {
  for (const kind of ['etcd', 'consul'] as const) {
    test(`${kind}: register and watch with client certificates; without them, a clear error`, async () => {
      const addr = kind === 'etcd' ? etcd.addr : consul.addr;
      const url = `${kind}://${addr}/tls`;
      const stop = new AbortController();
      const opened: KVDiscovery[] = [];
      try {
        const joiner = (await createDiscovery(url, tlsConfig())) as KVDiscovery;
        const watcher = (await createDiscovery(url, tlsConfig())) as KVDiscovery;
        opened.push(joiner, watcher);
        expect(watcher.description).toContain('with TLS');
        await joiner.register('10.5.0.1:2376');
        const log = new EventLog<WatchEvent>(watcher.watch(stop.signal));
        await log.waitFor('the TLS-registered node', (e) => e.kind === 'entries' && e.entries.join() === '10.5.0.1:2376', 10_000);

        // Plain text to a TLS-only store fails with an error, not a hang.
        const plain = (await createDiscovery(url, { ...tlsConfig(), options: {} })) as KVDiscovery;
        opened.push(plain);
        const plainLog = new EventLog<WatchEvent>(plain.watch(stop.signal));
        const failure = await plainLog.waitFor('an error without TLS', (e) => e.kind === 'error', 15_000);
        expect(failure.event.kind === 'error' && failure.event.error.message).toContain(kind === 'etcd' ? 'etcd at' : 'Consul at');

        if (kind === 'etcd') {
          // The server certificate names 127.0.0.1, not 127.0.0.2: refused although the CA is right.
          const wrong = (await createDiscovery(`etcd://127.0.0.2:${addr.split(':')[1]}/tls`, tlsConfig())) as KVDiscovery;
          opened.push(wrong);
          const wrongLog = new EventLog<WatchEvent>(wrong.watch(stop.signal));
          const refused = await wrongLog.waitFor('a certificate error', (e) => e.kind === 'error', 15_000);
          expect(refused.event.kind === 'error' && refused.event.error.message).toContain("IP: 127.0.0.2 is not in the cert's list: 127.0.0.1");
        }
      } finally {
        stop.abort();
        await Promise.all(opened.map((d) => d.close()));
      }
    });
  }
});
