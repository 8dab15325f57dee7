/**
 * scripts/testbed.sh itself: three real engines that are really distinct, with the busybox image,
 * working containers, the requested storage drivers and labels, and a dockerd that can be killed
 * and started again.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { dockerCli, killEngine, readHosts, startEngine, testbedDown, testbedUp, type TestbedHost } from '../helpers/testbed';

let hosts: TestbedHost[] = [];

async function info(h: TestbedHost): Promise<{ ID: string; Name: string; Driver: string; Labels: string[] }> {
  const r = await dockerCli(h.addr, ['info', '--format', '{{json .}}'], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(`docker info on ${h.addr} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ID: string; Name: string; Driver: string; Labels: string[] };
}

beforeAll(async () => {
  hosts = await testbedUp(3, {
    labels: { 1: { init: 'systemd', environment: 'production' }, 3: { region: 'eu' } },
  });
}, 300_000);

afterAll(async () => {
  await testbedDown();
}, 120_000);

const net = process.env.TESTBED_ID || '0';

describe('testbed', () => {
  test('three hosts in the hosts file', () => {
    expect(hosts.map((h) => `${h.name} ${h.addr} ${h.storageDriver}`)).toEqual([
      `node-1 10.99.${net}.11:2375 overlay2`,
      `node-2 10.99.${net}.12:2375 btrfs`,
      `node-3 10.99.${net}.13:2375 vfs`,
    ]);
    expect(readHosts()).toEqual(hosts);
  });

  test('engines are distinct: IDs, names, storage drivers', async () => {
    const infos = await Promise.all(hosts.map(info));
    expect(new Set(infos.map((i) => i.ID)).size).toBe(3);
    expect(infos.map((i) => i.Name)).toEqual(['node-1', 'node-2', 'node-3']);
    expect(infos.map((i) => i.Driver)).toEqual(['overlay2', 'btrfs', 'vfs']);
  });

  test('labels given at start show in docker info', async () => {
    const infos = await Promise.all(hosts.map(info));
    expect(infos[0]!.Labels).toEqual(expect.arrayContaining(['init=systemd', 'environment=production']));
    expect(infos[1]!.Labels ?? []).toEqual([]);
    expect(infos[2]!.Labels).toEqual(['region=eu']);
  });

  test('busybox:latest exists on each engine, with the same image ID', async () => {
    const ids = await Promise.all(
      hosts.map(async (h) => {
        const r = await dockerCli(h.addr, ['image', 'inspect', '--format', '{{.Id}}', 'busybox:latest']);
        expect(r.code).toBe(0);
        return r.stdout.trim();
      }),
    );
    expect(ids[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(new Set(ids).size).toBe(1);
  });

  test('docker run --rm busybox echo hi works on each host', async () => {
    for (const h of hosts) {
      const r = await dockerCli(h.addr, ['run', '--rm', 'busybox', 'echo', 'hi'], { timeoutMs: 60_000 });
      expect({ host: h.name, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ host: h.name, code: 0, stdout: 'hi\n', stderr: '' });
    }
  }, 120_000);

  test('published ports are reachable from the root namespace and from the other hosts', async () => {
    const h1 = hosts[0]!;
    const run = await dockerCli(h1.addr, ['run', '-d', '--name', 'tb-web', '-p', '8080:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
    expect(run.code).toBe(0);
    try {
      let body = '';
      for (let i = 0; i < 50 && !body; i++) {
        body = await fetch(`http://${h1.ip}:8080/hostname`)
          .then((res) => (res.ok ? res.text() : ''))
          .catch(() => '');
        if (!body) await Bun.sleep(100);
      }
      expect(body.trim()).toMatch(/^[0-9a-f]{12}$/);
      // busybox 1.35's wget -T segfaults: bound it with timeout instead
      const r = await dockerCli(hosts[2]!.addr, ['run', '--rm', 'busybox', 'timeout', '10', 'wget', '-qO-', `http://${h1.ip}:8080/hostname`]);
      expect(r.stdout.trim()).toBe(body.trim());
    } finally {
      await dockerCli(h1.addr, ['rm', '-f', 'tb-web']);
    }
  }, 60_000);

  test('kill-engine makes the API go away, start-engine brings it back with the same ID', async () => {
    const h2 = hosts[1]!;
    const before = await info(h2);
    await killEngine(2);
    const down = await dockerCli(h2.addr, ['version'], { timeoutMs: 10_000 });
    expect(down.code).not.toBe(0);
    await startEngine(2);
    const after = await info(h2);
    expect(after.ID).toBe(before.ID);
    expect(after.Name).toBe('node-2');
    const r = await dockerCli(h2.addr, ['run', '--rm', 'busybox', 'echo', 'back'], { timeoutMs: 60_000 });
    expect(r.stdout).toBe('back\n');
  }, 120_000);
});
