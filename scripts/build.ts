/**
 * Builds the single `dist/swarm` executable with `bun build --compile`. The Bun.build API (not the
 * CLI) is used because plugins are needed to make some libraries work inside the binary.
 * The binary must not read .env or bunfig.toml from the directory it runs in.
 */
import { $ } from 'bun';
import { mkdir, rm } from 'node:fs/promises';

const commit = (await $`git rev-parse --short HEAD`.quiet().nothrow()).stdout.toString().trim() || 'unknown';
await rm('dist', { recursive: true, force: true });
await mkdir('dist', { recursive: true });

const result = await Bun.build({
  entrypoints: ['bin/swarm.ts', 'src/commands.ts'],
  compile: {
    outfile: 'dist/swarm',
    autoloadDotenv: false,
    autoloadBunfig: false,
  },
  splitting: true,
  minify: true,
  sourcemap: 'none',
  bytecode: process.env.SWARM_BYTECODE !== '0',
  target: 'bun',
  format: 'esm',
  external: ['cpu-features', '*.node'],
  define: { SWARM_GIT_COMMIT: JSON.stringify(commit) },
});

if (!result.success) {
  for (const message of result.logs) console.error(message);
  process.exit(1);
}
console.error(`built dist/swarm (${commit})`);
