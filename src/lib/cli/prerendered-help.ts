/**
 * Help text rendered by oclif at build time (scripts/build.ts runs the binary for every help command
 * line and embeds what it printed), so `swarm --help` and `swarm <command> --help` answer without
 * loading the CLI framework. The text is used only where oclif would print exactly it: 80 columns, no
 * theme file, and bold headers exactly when oclif's colour library would colour; anywhere else oclif
 * renders the help itself, as before.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir, release } from 'node:os';
import { join } from 'node:path';
import type { CommandDef } from './argv';

/** Stands for the `swarm/<version> <platform>-<arch> node-<version>` line, which depends on the target. */
export const USER_AGENT_MARK = '<%= user-agent %>';

export interface PrerenderedHelp {
  /** Distinct help texts, with the user agent as USER_AGENT_MARK. */
  texts: string[];
  /** Command line (words joined by NUL) → index in texts, as printed without colours. */
  plain: Record<string, number>;
  /** The same with colours on (bold section headers). */
  bold: Record<string, number>;
}

/** Every command line that only shows help: `swarm`, `swarm --help|-h`, `swarm help`, and per command (id or alias) `<cmd> --help|-h`, `help <cmd>`. */
export function helpCommandLines(commands: Readonly<Record<string, CommandDef>>): string[][] {
  const lines: string[][] = [[], ['--help'], ['-h'], ['help']];
  for (const [id, cmd] of Object.entries(commands)) {
    for (const name of [id, ...(cmd.aliases ?? []), ...(cmd.hiddenAliases ?? [])]) {
      const words = name.split(':');
      lines.push([...words, '--help'], [...words, '-h'], ['help', ...words]);
    }
  }
  return lines;
}

export function helpKey(argv: readonly string[]): string {
  return argv.join('\0');
}

/** The width oclif wraps help at (its screen.js). */
function helpWidth(env: NodeJS.ProcessEnv): number {
  const columns = Number.parseInt(env.OCLIF_COLUMNS ?? '', 10);
  if (columns) return columns;
  if (!process.stdout.isTTY) return 80;
  const width = process.stdout.columns ?? 0;
  return width < 1 ? 80 : Math.max(width, 40);
}

/** Whether oclif's colour library (ansis, decided once at its load from stdout and the environment) colours output. */
function colorsOn(env: NodeJS.ProcessEnv): boolean {
  const isTTY = (!!env.PM2_HOME && !!env.pm_id) || !!env.NEXT_RUNTIME?.includes('edge') || !!process.stdout.isTTY;
  const forced = env.FORCE_COLOR;
  const parsed = Number.parseInt(forced ?? '', 10);
  const level = Number.isNaN(parsed) ? (forced === 'false' ? 0 : -1) : parsed;
  const flagged = process.argv.some((a) => /^-{1,2}color=?(true|always)?$/.test(a));
  const force = ('FORCE_COLOR' in env && level !== 0) || flagged;
  if (level === 0 || env.NO_COLOR || process.argv.some((a) => /^-{1,2}(no-color|color=(false|never))$/.test(a))) return false;
  if (force) return true;
  // Its detection, reduced to "any colour at all".
  if (['24bit', 'truecolor', 'ansi256', 'ansi'].includes(env.COLORTERM ?? '') || env.TF_BUILD || env.CI) return true;
  if (Object.keys(env).some((k) => k.startsWith('TEAMCI'))) return true;
  return isTTY && !/-mono|dumb/i.test(env.TERM ?? 'undefined');
}

/** oclif's configuration dir (where a user theme.json changes how help looks). */
function configDir(env: NodeJS.ProcessEnv): string {
  if (env.SWARM_CONFIG_DIR) return env.SWARM_CONFIG_DIR;
  const home = env.HOME || homedir();
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'swarm');
}

/** oclif reports the platform as `wsl` there. */
function maybeWsl(): boolean {
  if (release().toLowerCase().includes('microsoft')) return true;
  try {
    return readFileSync('/proc/version', 'utf8').toLowerCase().includes('microsoft');
  } catch {
    return false;
  }
}

/**
 * The help oclif would print for this command line, or undefined when oclif must render it
 * (no such text, other width, a theme, WSL).
 */
export function prerenderedHelp(help: PrerenderedHelp, argv: readonly string[], userAgent: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = helpKey(argv);
  if (!(key in help.plain)) return undefined;
  if (helpWidth(env) !== 80 || existsSync(join(configDir(env), 'theme.json')) || maybeWsl()) return undefined;
  const index = (colorsOn(env) ? help.bold : help.plain)[key];
  const text = index === undefined ? undefined : help.texts[index];
  return text?.replaceAll(USER_AGENT_MARK, userAgent);
}
