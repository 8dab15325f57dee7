/**
 * Runs the compiled `dist/swarm` the way a user would: copied into a temporary directory with no
 * node_modules or package.json near it.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Subprocess } from 'bun';

const BUILT = resolve(import.meta.dir, '../../dist/swarm');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class SwarmBinary {
  readonly dir: string;
  readonly path: string;

  constructor() {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run "npm run build" first`);
    this.dir = mkdtempSync(join(tmpdir(), 'swarm-bin-'));
    this.path = join(this.dir, 'swarm');
    copyFileSync(BUILT, this.path);
  }

  /** Runs to completion (killed after timeoutMs). */
  async run(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
    const proc = Bun.spawn([this.path, ...args], {
      cwd: opts.cwd ?? this.dir,
      env: cleanEnv(opts.env),
      stdout: 'pipe',
      stderr: 'pipe',
      stdin: 'ignore',
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    clearTimeout(timer);
    return { code, stdout, stderr };
  }

  /** Starts a long-running command; its stderr is collected in `log()`. */
  start(args: string[], opts: { env?: Record<string, string> } = {}): RunningSwarm {
    return new RunningSwarm(
      Bun.spawn([this.path, ...args], { cwd: this.dir, env: cleanEnv(opts.env), stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' }),
    );
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class RunningSwarm {
  private out = '';
  private err = '';
  readonly exited: Promise<number>;

  constructor(readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>) {
    void collect(proc.stdout, (s) => (this.out += s));
    void collect(proc.stderr, (s) => (this.err += s));
    this.exited = proc.exited;
  }

  stdout(): string {
    return this.out;
  }

  log(): string {
    return this.err;
  }

  /** Sends `signal` and waits for the exit code (SIGKILL after 5 s). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    this.proc.kill(signal);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

async function collect(stream: ReadableStream<Uint8Array>, add: (s: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
}

/** The test's environment without variables that would change swarm's behaviour. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('SWARM_') && k !== 'DEBUG') env[k] = v;
  }
  return { ...env, NO_COLOR: '1', ...extra };
}

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Polls `check` until it returns a value other than undefined, or fails after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(everyMs);
  }
}
