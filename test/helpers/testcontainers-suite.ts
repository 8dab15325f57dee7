/**
 * A Testcontainers for Node suite as a user writes one, run in a process of its own against
 * DOCKER_HOST (Testcontainers keeps one client per process, so the manager and the reference engine
 * each get a process). Prints one JSON object: each check's outcome, and the node of each container
 * when DOCKER_HOST is the manager (its inspect carries `Node`).
 *
 *   DOCKER_HOST=tcp://127.0.0.1:4000 TESTCONTAINERS_RYUK_DISABLED=true bun test/helpers/testcontainers-suite.ts
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, getContainerRuntimeClient, Network, Wait, type StartedTestContainer } from 'testcontainers';

export interface SuiteCheck {
  ok: boolean;
  ms: number;
  detail?: string;
  error?: string;
}

export interface SuiteReport {
  checks: Record<string, SuiteCheck>;
  /** Container role → node name (manager only). */
  nodes: Record<string, string>;
}

const HTTPD = (dir: string) => `mkdir -p ${dir} && [ -f ${dir}/index.html ] || echo "served by $(hostname)" > ${dir}/index.html; exec httpd -f -p 8080 -h ${dir}`;

const report: SuiteReport = { checks: {}, nodes: {} };
const started: StartedTestContainer[] = [];

async function check(name: string, fn: () => Promise<string | undefined>): Promise<void> {
  const t0 = Date.now();
  try {
    const detail = await fn();
    report.checks[name] = { ok: true, ms: Date.now() - t0, detail };
  } catch (err) {
    report.checks[name] = { ok: false, ms: Date.now() - t0, error: err instanceof Error ? `${err.message}` : String(err) };
  }
}

async function nodeOf(role: string, c: StartedTestContainer): Promise<void> {
  const client = await getContainerRuntimeClient();
  const inspect = (await client.container.getById(c.getId()).inspect()) as { Node?: { Name?: string } };
  if (inspect.Node?.Name) report.nodes[role] = inspect.Node.Name;
}

function httpd(): GenericContainer {
  return new GenericContainer('busybox').withCommand(['sh', '-c', HTTPD('/www')]).withExposedPorts(8080);
}

async function get(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (r.status !== 200) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return (await r.text()).trim();
}

async function main(): Promise<void> {
  await check('exposed port answers HTTP at the mapped port', async () => {
    const c = await httpd().withWaitStrategy(Wait.forListeningPorts()).withStartupTimeout(60_000).start();
    started.push(c);
    await nodeOf('web', c);
    const body = await get(`http://${c.getHost()}:${c.getMappedPort(8080)}/`);
    if (!body.startsWith('served by')) throw new Error(`unexpected body ${JSON.stringify(body)}`);
    return `${c.getHost()}:${c.getMappedPort(8080)}`;
  });

  await check('two containers on a user network talk by alias', async () => {
    const network = await new Network().start();
    try {
      const server = await httpd().withNetwork(network).withNetworkAliases('api').withWaitStrategy(Wait.forListeningPorts()).withStartupTimeout(60_000).start();
      const client = await new GenericContainer('busybox').withNetwork(network).withCommand(['sleep', '600']).start();
      await nodeOf('net-server', server);
      await nodeOf('net-client', client);
      try {
        const r = await client.exec(['wget', '-qO-', 'http://api:8080/']);
        if (r.exitCode !== 0 || !r.output.includes('served by')) throw new Error(`wget exited ${r.exitCode}: ${r.output}`);
        return r.output.trim();
      } finally {
        await client.stop();
        await server.stop();
      }
    } finally {
      await network.stop();
    }
  });

  await check('withCopyFilesToContainer: the file is there before start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tc-copy-'));
    try {
      const file = join(dir, 'index.html');
      writeFileSync(file, 'copied-by-testcontainers\n');
      const c = await new GenericContainer('busybox')
        .withCopyFilesToContainer([{ source: file, target: '/site/index.html' }])
        .withCommand(['sh', '-c', HTTPD('/site')])
        .withExposedPorts(8080)
        .withStartupTimeout(60_000)
        .start();
      started.push(c);
      const body = await get(`http://${c.getHost()}:${c.getMappedPort(8080)}/`);
      if (body !== 'copied-by-testcontainers') throw new Error(`unexpected body ${JSON.stringify(body)}`);
      return body;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  await check('exec returns output and exit code', async () => {
    const c = started[0];
    if (!c) throw new Error('no container from the first check');
    const r = await c.exec(['sh', '-c', 'echo out-$((6*7)); exit 3']);
    if (r.exitCode !== 3 || r.output.trim() !== 'out-42') throw new Error(`exec: exit ${r.exitCode}, output ${JSON.stringify(r.output)}`);
    return `exit ${r.exitCode}`;
  });

  await check('log message wait strategy', async () => {
    const c = await new GenericContainer('busybox')
      .withCommand(['sh', '-c', 'sleep 1; echo "database system is ready"; sleep 600'])
      .withWaitStrategy(Wait.forLogMessage('system is ready'))
      .withStartupTimeout(30_000)
      .start();
    started.push(c);
    const logs = await c.logs();
    const text = await new Promise<string>((resolve) => {
      let all = '';
      logs.on('data', (d: Buffer | string) => {
        all += d.toString();
        if (all.includes('ready')) resolve(all);
      });
      setTimeout(() => resolve(all), 5000);
    });
    logs.destroy();
    if (!text.includes('database system is ready')) throw new Error(`logs: ${JSON.stringify(text)}`);
    return 'ready';
  });

  await check('stop removes the container', async () => {
    const client = await getContainerRuntimeClient();
    const ids = started.map((c) => c.getId());
    for (const c of started.splice(0)) await c.stop();
    for (const id of ids) {
      const gone = await client.container
        .getById(id)
        .inspect()
        .then(() => false)
        .catch((err: { statusCode?: number }) => err.statusCode === 404);
      if (!gone) throw new Error(`container ${id.slice(0, 12)} still exists after stop`);
    }
    return `${ids.length} removed`;
  });
}

try {
  await main();
} finally {
  for (const c of started) await c.stop().catch(() => undefined);
}
process.stdout.write(`${JSON.stringify(report)}\n`);
process.exit(0);
