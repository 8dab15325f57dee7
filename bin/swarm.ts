#!/usr/bin/env bun
/**
 * Entry point of the `swarm` binary. oclif is told exactly where the command map is (the "explicit"
 * strategy): inside a compiled bun binary it can neither glob a commands directory nor find package.json.
 */
import type { Interfaces } from '@oclif/core';
import pjson from '../package.json' with { type: 'json' };

declare const SWARM_GIT_COMMIT: string | undefined;

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-v')) {
  // v1's format: `swarm version 1.2.9 (<commit>)`.
  const commit = typeof SWARM_GIT_COMMIT === 'string' ? SWARM_GIT_COMMIT : 'dev';
  process.stdout.write(`swarm version ${pjson.version} (${commit})\n`);
  process.exit(0);
}

// In the compiled binary the entry sits at /$bunfs/root and the command map at
// /$bunfs/root/src/commands.js; from the source tree the map is ../src/commands.ts.
const compiled = import.meta.dir.startsWith('/$bunfs');
const target = compiled ? './src/commands.js' : '../src/commands.ts';
const manifest: Interfaces.PJSON = { ...pjson, oclif: { ...pjson.oclif, topicSeparator: ' ', commands: { strategy: 'explicit', identifier: 'COMMANDS', target } } };

// Imported only now, so `--version` answers without loading the CLI framework.
const { execute } = await import('@oclif/core');
await execute({ args: argv, loadOptions: { root: import.meta.dir, pjson: manifest } });
