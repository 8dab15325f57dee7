/**
 * Throughput of the publish proxy: a 1 GiB HTTP download from a container's published port, straight
 * from the node and through the manager's proxy (--cluster-opt swarm.publish-proxy=true), in
 * alternating rounds; prints each round, the medians, the ratio and the manager's CPU time per GiB.
 * The container is busybox httpd serving a sparse 1 GiB file (sendfile), the client curl.
 *
 *   TESTBED_ID=6 scripts/testbed.sh up 1
 *   TESTBED_ID=6 node_modules/.bin/bun bench/publish-proxy.ts [--bin dist/swarm] [--rounds 5] [--size-mb 1024] [--rate 1gbit]
 *
 * --rate shapes the node's side of its link (tc tbf on eth0 in the node's network namespace) so the
 * path behaves like a network of that speed instead of an in-memory veth; the shaping is removed after.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { readHosts, run } from '../test/helpers/testbed';

const { values } = parseArgs({
  options: {
    bin: { type: 'string', default: 'dist/swarm' },
    rounds: { type: 'string', default: '5' },
    'size-mb': { type: 'string', default: '1024' },
    rate: { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const sizeMb = Number(values['size-mb']);
const node = readHosts()[0];
if (!node) throw new Error('no testbed: run TESTBED_ID=N scripts/testbed.sh up 1 first');

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const port = await freePort();
const host = `tcp://127.0.0.1:${port}`;
const mgr = spawn(values.bin!, ['manage', '-H', host, '--cluster-opt', 'swarm.publish-proxy=true', `nodes://${node.addr}`], { stdio: ['ignore', 'ignore', 'ignore'] });
const cpuSeconds = () => {
  const f = readFileSync(`/proc/${mgr.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
};

async function docker(args: string[]): Promise<string> {
  const r = await run(['docker', '-H', host, ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** Bytes per second of one download with curl. */
async function download(url: string): Promise<number> {
  const r = await run(['curl', '-s', '-o', '/dev/null', '-w', '%{size_download} %{speed_download}', url], { timeoutMs: 600_000 });
  const [size, speed] = r.stdout.trim().split(' ').map(Number);
  if (size !== sizeMb * 1024 * 1024) throw new Error(`download of ${url} got ${size} bytes: ${r.stderr}`);
  return speed!;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bps: number) => `${(bps / 1e6).toFixed(0)} MB/s`;

const dockerdPid = (): string => {
  const out = execFileSync('bash', ['scripts/testbed.sh', 'status'], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(node.addr) && /\s\d+\s+up\s/.test(l));
  const pid = line?.split(/\s+/)[4];
  if (!pid) throw new Error(`dockerd pid of ${node.name} not found in:\n${out}`);
  return pid;
};
const tc = (args: string[]) => execFileSync('nsenter', ['-t', dockerdPid(), '-n', 'tc', ...args], { stdio: 'inherit' });

const name = `bench-proxy-${Date.now().toString(36)}`;
try {
  for (let i = 0; i < 50; i++) {
    if ((await run(['docker', '-H', host, 'info'], { timeoutMs: 10_000 })).stdout.includes('Status: Healthy')) break;
    await Bun.sleep(200);
  }
  const sh = `mkdir -p /www && dd if=/dev/zero of=/www/big bs=1 count=0 seek=${sizeMb * 1024 * 1024} 2>/dev/null; exec httpd -f -p 8000 -h /www`;
  await docker(['run', '-d', '--name', name, '-p', '8000', 'busybox', 'sh', '-c', sh]);
  const proxied = (await docker(['port', name, '8000'])).split('\n')[0]!;
  const nodePort = (await run(['docker', '-H', node.addr, 'port', name, '8000'])).stdout.trim().split('\n')[0]!.split(':').at(-1);
  const direct = `${node.ip}:${nodePort}`;
  if (values.rate) tc(['qdisc', 'replace', 'dev', 'eth0', 'root', 'tbf', 'rate', values.rate, 'burst', '1mb', 'latency', '50ms']);
  await download(`http://${direct}/big`); // warm-up: page cache, TCP
  const d: number[] = [];
  const p: number[] = [];
  let cpu = 0;
  for (let i = 0; i < rounds; i++) {
    d.push(await download(`http://${direct}/big`));
    const c0 = cpuSeconds();
    p.push(await download(`http://${proxied}/big`));
    cpu += cpuSeconds() - c0;
    console.log(`round ${i + 1}: direct ${mbps(d.at(-1)!)}, through the proxy ${mbps(p.at(-1)!)}`);
  }
  const [md, mp] = [median(d), median(p)];
  console.log(`${sizeMb} MiB x ${rounds}${values.rate ? `, link shaped to ${values.rate}` : ''}: direct ${mbps(md)}, proxy ${mbps(mp)} (${((100 * mp) / md).toFixed(0)}% of direct); manager CPU ${(cpu / ((rounds * sizeMb) / 1024)).toFixed(2)} s per GiB proxied`);
} finally {
  if (values.rate) {
    try {
      tc(['qdisc', 'del', 'dev', 'eth0', 'root']);
    } catch {
      /* already gone */
    }
  }
  await run(['docker', '-H', host, 'rm', '-f', name]).catch(() => undefined);
  mgr.kill('SIGTERM');
}
