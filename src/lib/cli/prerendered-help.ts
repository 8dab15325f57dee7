/**
 * Help text rendered by oclif at build time (scripts/build.ts runs the binary for every help command
 * line and embeds what it printed), so `swarm --help` and `swarm <command> --help` answer without
 * loading the CLI framework. The text is used only where oclif would print exactly it: 80 columns, no
 * theme file, and colours (bold headers) plainly on or off as oclif's colour libraries decide; anywhere
 * else oclif renders the help itself, as before (and wherever OCLIF_COLUMNS is set).
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
  /** Command line (helpKey) → index in texts, as printed without colours. */
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

/** A command line as a key: JSON, so that no two differ only in how words are split (`swarm ''` is not `swarm`). */
export function helpKey(argv: readonly string[]): string {
  return JSON.stringify(argv);
}

/** The width oclif wraps help at (its screen.js), where OCLIF_COLUMNS does not set it. */
function helpWidth(): number {
  if (!process.stdout.isTTY) return 80;
  const width = process.stdout.columns ?? 0;
  return width < 1 ? 80 : Math.max(width, 40);
}

/**
 * Whether oclif's help would be coloured (bold headers), or undefined where that is not plain to
 * see. oclif colours only when supports-color finds colour on both stdout and stderr and ansis on
 * stdout; the cases below are those where both libraries agree for sure.
 */
function colorsOn(env: NodeJS.ProcessEnv): boolean | undefined {
  if ('TEAMCITY_VERSION' in env) return undefined;
  const forced = env.FORCE_COLOR;
  if (forced !== undefined) {
    if (forced === '0' || forced === 'false') return false;
    if (['', '1', '2', '3', 'true'].includes(forced)) return !env.NO_COLOR;
    return undefined;
  }
  if (!process.stdout.isTTY || !process.stderr.isTTY) return false;
  if (env.NO_COLOR) return false;
  const term = env.TERM ?? '';
  if ('CI' in env || /-mono|dumb/i.test(term)) return undefined;
  return /-256(color)?$/i.test(term) || /^screen|^xterm|^vt100|^vt220|^rxvt|color|ansi|cygwin|linux/i.test(term) ? true : undefined;
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
 * (no such text, OCLIF_COLUMNS set, another width, a theme, WSL).
 */
export function prerenderedHelp(help: PrerenderedHelp, argv: readonly string[], userAgent: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const key = helpKey(argv);
  if (!(key in help.plain)) return undefined;
  // OCLIF_COLUMNS, whatever its value, leaves the rendering to oclif (the tests compare with that).
  if (env.OCLIF_COLUMNS || helpWidth() !== 80 || existsSync(join(configDir(env), 'theme.json')) || maybeWsl()) return undefined;
  const colors = colorsOn(env);
  if (colors === undefined) return undefined;
  const index = (colors ? help.bold : help.plain)[key];
  const text = index === undefined ? undefined : help.texts[index];
  return text?.replaceAll(USER_AGENT_MARK, userAgent);
}
