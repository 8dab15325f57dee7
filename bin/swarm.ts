#!/usr/bin/env bun
/**
 * Entry point of the `swarm` binary. oclif is told exactly where the command map is (the "explicit"
 * strategy): inside a compiled bun binary it can neither glob a commands directory nor find package.json.
 */
import type { Interfaces } from '@oclif/core';
import pjson from '../package.json' with { type: 'json' };
import { prerenderedHelp, type PrerenderedHelp } from '../src/lib/cli/prerendered-help';

declare const SWARM_GIT_COMMIT: string | undefined;
/** Every command's help as oclif renders it, embedded by scripts/build.ts (absent when run from source). */
declare const SWARM_HELP: PrerenderedHelp | undefined;

function printVersion(): never {
  // v1's format: `swarm version 1.2.9 (<commit>)`.
  const commit = typeof SWARM_GIT_COMMIT === 'string' ? SWARM_GIT_COMMIT : 'dev';
  process.stdout.write(`swarm version ${pjson.version} (${commit})\n`);
  process.exit(0);
}

const raw = process.argv.slice(2);
if (raw.length === 1 && (raw[0] === '--version' || raw[0] === '-v')) printVersion();
if (typeof SWARM_HELP === 'object') {
  // oclif's user agent, as in its Config.
  const userAgent = `${pjson.name}/${pjson.version} ${process.platform}-${process.arch === 'ia32' ? 'x86' : process.arch} node-${process.version}`;
  const text = prerenderedHelp(SWARM_HELP, raw, userAgent);
  if (text !== undefined) {
    process.stdout.write(text);
    process.exit(0);
  }
}

// v1 command lines (global flags before the command, `-strategy binpack`) rewritten for oclif, from
// the commands' own flag definitions.
const [{ COMMANDS }, { BaseCommand, errorLine }, { ArgvError, normalizeArgv }] = await Promise.all([
  import('../src/commands'),
  import('../src/lib/cli/base'),
  import('../src/lib/cli/argv'),
]);
let argv: string[];
try {
  const normalized = normalizeArgv(raw, COMMANDS, BaseCommand.baseFlags);
  for (const name of normalized.clearEnv) delete process.env[name];
  argv = normalized.argv;
} catch (err) {
  if (!(err instanceof ArgvError)) throw err;
  process.stderr.write(errorLine(err, err.exitCode, err.command));
  process.exit(err.exitCode);
}
if (argv.length === 1 && argv[0] === '--version') printVersion();

const GLOBAL_HELP = `${pjson.description}
Usage: swarm [global options] COMMAND [arg...]

Global options, before or after the command:
  --debug              log level debug unless -l is given (env DEBUG)
  --log-level, -l LVL  debug, info, warn, error, fatal or panic (default info)
  --experimental       manager reports Experimental: true in /version, /info
  --help, -h           show help; --version, -v: print the version
Long flags also take one dash, as in v1: -strategy binpack, -addr=ip:port`;

// In the compiled binary the entry sits at /$bunfs/root and the command map at
// /$bunfs/root/src/commands.js; from the source tree the map is ../src/commands.ts.
const compiled = import.meta.dir.startsWith('/$bunfs');
const target = compiled ? './src/commands.js' : '../src/commands.ts';
const manifest: Interfaces.PJSON = {
  ...pjson,
  oclif: { ...pjson.oclif, description: GLOBAL_HELP, topicSeparator: ' ', commands: { strategy: 'explicit', identifier: 'COMMANDS', target } },
};

// Everything is imported after the `--version` and help checks above, so those answer without loading the CLI framework.
const { execute } = await import('@oclif/core');
await execute({ args: argv, loadOptions: { root: import.meta.dir, pjson: manifest } });
