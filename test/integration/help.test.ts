/**
 * `swarm --help` and every command's help come pre-rendered from the binary (scripts/build.ts runs
 * oclif at build time) and must be exactly what oclif prints: compared here with the same binary made
 * to render through oclif (OCLIF_COLUMNS set skips the pre-rendered text), across colour settings, a
 * terminal, a user theme, and within the start-up budget.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { COMMANDS } from '../../src/commands';
import { helpCommandLines } from '../../src/lib/cli/prerendered-help';

const dir = mkdtempSync(join(tmpdir(), 'swarm-help-it-'));
const BIN = join(dir, 'swarm');
copyFileSync(resolve(import.meta.dir, '../../dist/swarm'), BIN);
const HOME = join(dir, 'home');
mkdirSync(HOME);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

/** The binary with exactly this environment (no inherited CI, TERM or colour settings). */
async function swarm(args: string[], env: Record<string, string> = {}): Promise<Out> {
  const proc = Bun.spawn([BIN, ...args], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME, ...env }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** What oclif itself prints at 80 columns. */
function oclif(args: string[], env: Record<string, string> = {}): Promise<Out> {
  return swarm(args, { ...env, OCLIF_COLUMNS: '80' });
}

/** The binary on a terminal of `columns` columns (script(1) gives it a pty). */
async function onTerminal(args: string[], columns: number, env: Record<string, string> = {}): Promise<string> {
  const command = `stty cols ${columns} rows 50; exec ${[BIN, ...args].join(' ')}`;
  const proc = Bun.spawn(['script', '-qec', command, '/dev/null'], { cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME, TERM: 'xterm', ...env }, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [stdout] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  return stdout;
}

describe('pre-rendered help', () => {
  const lines = helpCommandLines(COMMANDS);

  test('covers the root help and every command, alias and `help <command>` form', () => {
    expect(lines).toContainEqual([]);
    expect(lines).toContainEqual(['--help']);
    expect(lines).toContainEqual(['node', 'ls', '--help']);
    expect(lines).toContainEqual(['help', 'manage']);
    expect(lines).toContainEqual(['m', '-h']);
  });

  for (const [name, env] of [
    ['without colours (a pipe)', {}],
    ['with FORCE_COLOR=1', { FORCE_COLOR: '1' }],
    ['with CI=true', { CI: 'true' }],
  ] as const) {
    test(`every help command line prints what oclif prints, ${name}`, async () => {
      for (let i = 0; i < lines.length; i += 2) {
        await Promise.all(
          lines.slice(i, i + 2).map(async (argv) => {
            const [ours, theirs] = await Promise.all([swarm(argv, env), oclif(argv, env)]);
            expect({ argv, ...ours }).toEqual({ argv, ...theirs });
            expect(ours.code).toBe(0);
          }),
        );
      }
    }, 120_000);
  }

  test('colour settings are read as oclif reads them', async () => {
    const envs: Record<string, string>[] = [
      { NO_COLOR: '1', FORCE_COLOR: '1' },
      { FORCE_COLOR: '0', CI: 'true' },
      { FORCE_COLOR: 'true', TERM: 'dumb' },
      { FORCE_COLOR: '' },
      { FORCE_COLOR: 'yes' },
      { FORCE_COLOR: '3', CI: 'true', GITHUB_ACTIONS: 'true' },
      { CI: 'true', GITHUB_ACTIONS: 'true' },
      { COLORTERM: 'truecolor', TERM: 'xterm-256color' },
      { TF_BUILD: 'True' },
      { TEAMCITY_VERSION: '2024.1', FORCE_COLOR: '1' },
    ];
    for (const env of envs) {
      for (const argv of [['--help'], ['manage', '--help']]) {
        const [ours, theirs] = await Promise.all([swarm(argv, env), oclif(argv, env)]);
        expect({ env, argv, out: ours.stdout }).toEqual({ env, argv, out: theirs.stdout });
      }
    }
    expect((await swarm(['--help'], { FORCE_COLOR: '1' })).stdout).toContain('\u001b[1mCOMMANDS\u001b[22m');
    expect((await swarm(['--help'], { CI: 'true' })).stdout).not.toContain('\u001b[');
  });

  test('on a terminal: the same as oclif at 80 columns, and oclif renders any other width', async () => {
    const terminal = await onTerminal(['manage', '--help'], 80);
    expect(terminal).toContain('\u001b[1mUSAGE\u001b[22m');
    expect(terminal).toBe(await onTerminal(['manage', '--help'], 80, { OCLIF_COLUMNS: '80' }));
    expect(await onTerminal(['--help'], 80, { TERM: 'xterm-mono' })).toBe(await onTerminal(['--help'], 80, { TERM: 'xterm-mono', OCLIF_COLUMNS: '80' }));
    const wide = await onTerminal(['manage', '--help'], 132);
    expect(wide).toBe(await onTerminal(['manage', '--help'], 132, { OCLIF_COLUMNS: '132' }));
    expect(wide).not.toBe(await onTerminal(['manage', '--help'], 80));
  }, 30_000);

  test('a user theme (~/.config/swarm/theme.json) is honoured: oclif renders', async () => {
    const home = join(dir, 'themed');
    mkdirSync(join(home, '.config/swarm'), { recursive: true });
    writeFileSync(join(home, '.config/swarm/theme.json'), JSON.stringify({ sectionHeader: 'red' }));
    const ours = await swarm(['join', '--help'], { HOME: home, FORCE_COLOR: '1' });
    expect(ours.stdout).toBe((await oclif(['join', '--help'], { HOME: home, FORCE_COLOR: '1' })).stdout);
    expect(ours.stdout).not.toBe((await swarm(['join', '--help'], { FORCE_COLOR: '1' })).stdout);
  });

  test('swarm --help and swarm manage --help start within 30 ms (median of 20)', async () => {
    for (const argv of [['--help'], ['manage', '--help']]) {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t0 = performance.now();
        const r = await swarm(argv);
        times.push(performance.now() - t0);
        expect(r.code).toBe(0);
      }
      times.sort((a, b) => a - b);
      const median = (times[9]! + times[10]!) / 2;
      expect({ argv, median: median < 30 ? 'under 30 ms' : `${median.toFixed(1)} ms` }).toEqual({ argv, median: 'under 30 ms' });
    }
  }, 30_000);
});
