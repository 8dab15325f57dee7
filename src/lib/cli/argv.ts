/**
 * Rewrites a v1 command line (urfave/cli on Go's flag package) into one oclif parses the same way:
 *  - global flags may come before the command (`swarm --debug manage ...`): they are moved after it;
 *  - a long flag may be written with one dash (`-strategy binpack`, `-advertise=1.2.3.4:2375`);
 *  - `--flag=true|false` on a boolean, and the last of repeated single-valued flags wins, as in Go.
 * Single-letter flags stay short (`-H :4000`, `-l debug`). Everything is driven by the commands' own
 * flag definitions, so a new flag needs nothing here.
 */
import { UserError } from '../errors';

/** What the rewrite needs from an oclif flag definition. */
export interface FlagDef {
  type: 'boolean' | 'option';
  char?: string;
  aliases?: readonly string[];
  charAliases?: readonly string[];
  allowNo?: boolean;
  multiple?: boolean;
  env?: string;
}

/** What the rewrite needs from a command class. */
export interface CommandDef {
  flags?: Readonly<Record<string, FlagDef>>;
  baseFlags?: Readonly<Record<string, FlagDef>>;
  aliases?: readonly string[];
  hiddenAliases?: readonly string[];
}

export interface NormalizedArgv {
  argv: string[];
  /** Environment variables of boolean flags set false on the command line (the command line wins, as in v1). */
  clearEnv: string[];
}

/** oclif answers these itself, before any command parses its flags. */
const BUILTIN: Readonly<Record<string, FlagDef>> = {
  help: { type: 'boolean', char: 'h' },
  version: { type: 'boolean', char: 'v' },
};

/** A usage error, worded as Go's flag package words it. */
export class ArgvError extends UserError {
  constructor(
    message: string,
    /** The command whose help explains the flags, if one was named. */
    readonly command?: string,
  ) {
    super(message, 2);
  }
}

interface Group {
  /** Canonical flag name, for "last one wins"; absent for positional arguments. */
  flag?: string;
  tokens: string[];
}

class FlagTable {
  private readonly long = new Map<string, [string, FlagDef]>();
  private readonly short = new Map<string, [string, FlagDef]>();

  constructor(...sets: Readonly<Record<string, FlagDef>>[]) {
    for (const set of sets) {
      for (const [name, def] of Object.entries(set)) {
        this.long.set(name, [name, def]);
        for (const alias of def.aliases ?? []) (alias.length === 1 ? this.short : this.long).set(alias, [name, def]);
        if (def.char) this.short.set(def.char, [name, def]);
        for (const c of def.charAliases ?? []) this.short.set(c, [name, def]);
      }
    }
  }

  find(name: string): [string, FlagDef] | undefined {
    return name.length === 1 ? this.short.get(name) : this.long.get(name);
  }

  /** An option flag with this letter: `-H127.0.0.1:4000` is oclif's attached-value form. */
  shortOption(letter: string): boolean {
    return this.short.get(letter)?.[1].type === 'option';
  }
}

/** Go's strconv.ParseBool. */
function parseBool(text: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  return undefined;
}

function isPositional(token: string): boolean {
  return !token.startsWith('-') || token === '-' || /^-\d/.test(token);
}

/**
 * Reads flags from `tokens[start..]` into `groups`. Stops before the first positional argument when
 * `untilPositional` (the words before the command), else copies positionals through. Returns the index
 * where it stopped. `strictUnknown`: an unknown flag is an error here rather than left to oclif.
 */
function readFlags(
  tokens: readonly string[],
  start: number,
  table: FlagTable,
  groups: Group[],
  clearEnv: string[],
  opts: { untilPositional: boolean; strictUnknown: boolean; command?: string },
): number {
  let i = start;
  while (i < tokens.length) {
    const token = tokens[i]!;
    if (token === '--') {
      if (opts.untilPositional) return i;
      groups.push({ tokens: tokens.slice(i) });
      return tokens.length;
    }
    if (isPositional(token)) {
      if (opts.untilPositional) return i;
      groups.push({ tokens: [token] });
      i++;
      continue;
    }
    const dashes = token.startsWith('--') ? 2 : 1;
    const body = token.slice(dashes);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const found = name ? table.find(name) : undefined;
    if (!found) {
      // `-H127.0.0.1:4000`: a short option with its value attached (not a word, which would be a misspelt long flag).
      const attached = dashes === 1 && eq < 0 && table.shortOption(name[0]!) && !/^[A-Za-z][A-Za-z-]*$/.test(name.slice(1));
      if (attached || (!opts.strictUnknown && (dashes === 2 || name.length === 1))) {
        groups.push({ tokens: [token] });
        i++;
        continue;
      }
      throw new ArgvError(`flag provided but not defined: -${name}`, opts.command);
    }
    const [canonical, def] = found;
    const spelled = name.length === 1 ? `-${name}` : `--${name}`;
    if (def.type === 'boolean') {
      const on = value === undefined ? true : parseBool(value);
      if (on === undefined) throw new ArgvError(`invalid boolean value "${value}" for -${name}: parse error`, opts.command);
      dropEarlier(groups, canonical);
      if (on) groups.push({ flag: canonical, tokens: [spelled] });
      else if (def.allowNo) groups.push({ flag: canonical, tokens: [`--no-${canonical}`] });
      else if (def.env) clearEnv.push(def.env);
      i++;
      continue;
    }
    if (!def.multiple) dropEarlier(groups, canonical);
    if (value !== undefined) {
      groups.push({ flag: canonical, tokens: [`${spelled}=${value}`] });
      i++;
    } else if (i + 1 < tokens.length) {
      // The next word is the value whatever it looks like, as in Go (`--engine-failure-retry -1`).
      groups.push({ flag: canonical, tokens: [spelled, tokens[i + 1]!] });
      i += 2;
    } else {
      groups.push({ flag: canonical, tokens: [spelled] }); // oclif reports the missing value
      i++;
    }
  }
  return i;
}

/** Go's flag package keeps the last value of a flag given twice; oclif would refuse the second. */
function dropEarlier(groups: Group[], flag: string): void {
  for (let k = groups.length - 1; k >= 0; k--) if (groups[k]!.flag === flag) groups.splice(k, 1);
}

/** The command named at `tokens[start..]` (`manage`, `m`, `node ls`, `node:ls`) and how many words it takes. */
function findCommand(tokens: readonly string[], start: number, commands: Readonly<Record<string, CommandDef>>): { id: string; words: number } | undefined {
  const ids = new Map<string, string>();
  for (const [id, cmd] of Object.entries(commands)) {
    ids.set(id, id);
    for (const alias of [...(cmd.aliases ?? []), ...(cmd.hiddenAliases ?? [])]) ids.set(alias, id);
  }
  const depth = Math.max(...[...ids.keys()].map((id) => id.split(':').length));
  for (let words = Math.min(depth, tokens.length - start); words >= 1; words--) {
    const parts = tokens.slice(start, start + words);
    if (parts.some((p) => isPositional(p) === false)) continue;
    const id = ids.get(parts.join(':'));
    if (id) return { id, words };
  }
  return undefined;
}

/**
 * The command line `argv` (without the program name) as oclif should see it. `globals` are the flags
 * every command has (accepted before the command as in v1). Throws ArgvError for flags Go would refuse.
 */
export function normalizeArgv(
  argv: readonly string[],
  commands: Readonly<Record<string, CommandDef>>,
  globals: Readonly<Record<string, FlagDef>>,
): NormalizedArgv {
  const clearEnv: string[] = [];
  const leading: Group[] = [];
  const start = readFlags(argv, 0, new FlagTable(globals, BUILTIN), leading, clearEnv, { untilPositional: true, strictUnknown: true });
  const asked = (flag: string) => leading.some((g) => g.flag === flag);
  // `swarm --debug --help`, `swarm -l debug` (no command): v1 shows the help.
  if (asked('help') || (start >= argv.length && !asked('version'))) return { argv: ['--help'], clearEnv };
  if (asked('version')) {
    if (start < argv.length) throw new ArgvError(`--version takes no arguments, got "${argv[start]}"`);
    return { argv: ['--version'], clearEnv };
  }
  if (argv[start] === '--') return { argv: argv.slice(start + 1), clearEnv };
  const found = findCommand(argv, start, commands);
  // Unknown command: oclif says so ("command x not found").
  if (!found) return { argv: argv.slice(start), clearEnv };
  const cmd = commands[found.id]!;
  const rest = argv.slice(start + found.words);
  const groups = [...leading];
  readFlags(rest, 0, new FlagTable(cmd.baseFlags ?? {}, cmd.flags ?? {}, BUILTIN), groups, clearEnv, {
    untilPositional: false,
    strictUnknown: false,
    command: found.id.replaceAll(':', ' '),
  });
  // oclif prints the help and exits 0 when --help is there, whatever else is wrong on the line.
  if (groups.some((g) => g.flag === 'help')) {
    const unknown = groups.find((g) => !g.flag && g.tokens[0]!.startsWith('-') && g.tokens[0] !== '--' && !isPositional(g.tokens[0]!));
    if (unknown) throw new ArgvError(`flag provided but not defined: ${unknown.tokens[0]!.replace(/=.*/, '')}`, found.id.replaceAll(':', ' '));
  }
  return { argv: [...argv.slice(start, start + found.words), ...groups.flatMap((g) => g.tokens)], clearEnv };
}
