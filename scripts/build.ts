/**
 * Builds the single `dist/swarm` executable with `bun build --compile`. The Bun.build API (not the
 * CLI) is used because plugins are needed to make some libraries work inside the binary.
 * The binary must not read .env or bunfig.toml from the directory it runs in.
 *
 * The help of every command is rendered by oclif at build time and embedded (src/lib/cli/prerendered-help.ts):
 * a first binary without it is run for each help command line, then the real one is built with the text.
 *
 * SWARM_TARGET=linux-arm64 (or linux-x64) cross-compiles to dist/swarm-<target>; bun fetches that
 * target's runtime (npm package @oven/bun-linux-aarch64 or -x64, same version as bun) from the npm
 * registry once, into ~/.bun/install/cache.
 */
import { $, type BunPlugin } from 'bun';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { COMMANDS } from '../src/commands';
import { helpCommandLines, helpKey, USER_AGENT_MARK, type PrerenderedHelp } from '../src/lib/cli/prerendered-help';

/**
 * etcd3 loads its .proto files at module load with `loadSync(`${__dirname}/../proto/rpc.proto`)`,
 * and bun bakes `__dirname` in as this machine's absolute path: the binary would fail anywhere else.
 * This plugin replaces that call with `fromJSON(<descriptor JSON>, <same options>)`, the JSON made
 * here by the same loader (@grpc/proto-loader's protobufjs loading, same options), so the protos
 * travel inside the binary.
 */
function etcd3ProtoPlugin(): BunPlugin {
  return {
    name: 'etcd3-inline-protos',
    setup(build) {
      build.onLoad({ filter: /[\\/]etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async ({ path }) => {
        const source = await readFile(path, 'utf8');
        const call = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, (\{[^}]*\})\)/;
        const match = call.exec(source);
        if (!match) throw new Error(`etcd3-inline-protos: the loadSync(...rpc.proto) call was not found in ${path}; etcd3 changed, update scripts/build.ts`);
        const options = match[1]!;
        // Resolve proto-loader as etcd3 itself does, then load the protos with etcd3's own options.
        const requireFromEtcd = createRequire(path);
        const loaderDir = dirname(requireFromEtcd.resolve('@grpc/proto-loader/package.json'));
        const util = requireFromEtcd(join(loaderDir, 'build/src/util.js')) as {
          loadProtosWithOptionsSync(file: string, opts: object): { toJSON(): object };
        };
        const loadOptions = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
        if (!/keepCase: true/.test(options) || !/oneofs: true/.test(options)) {
          throw new Error(`etcd3-inline-protos: unexpected loadSync options ${options}; update scripts/build.ts`);
        }
        const root = util.loadProtosWithOptionsSync(join(dirname(path), '../proto/rpc.proto'), loadOptions);
        const json = JSON.stringify(root.toJSON());
        return { contents: source.replace(call, `(0, proto_loader_1.fromJSON)(${json}, ${options})`), loader: 'js' };
      });
    },
  };
}

const TARGETS = { 'linux-x64': 'bun-linux-x64', 'linux-arm64': 'bun-linux-arm64' } as const;
type Target = keyof typeof TARGETS;
const hostTarget = `${process.platform}-${process.arch}`;
const target = process.env.SWARM_TARGET || hostTarget;
if (!(target in TARGETS)) {
  console.error(`build: SWARM_TARGET must be one of ${Object.keys(TARGETS).join(', ')}, got '${target}'`);
  process.exit(2);
}
const outfile = target === hostTarget ? 'dist/swarm' : `dist/swarm-${target}`;

const commit = (await $`git rev-parse --short HEAD`.quiet().nothrow()).stdout.toString().trim() || 'unknown';
await mkdir('dist', { recursive: true });

/** One compiled binary at `file` (for `compileTarget`, default this machine), with `help` embedded if given. */
async function compile(file: string, compileTarget: Target | undefined, help: PrerenderedHelp | undefined): Promise<void> {
  const result = await Bun.build({
    entrypoints: ['bin/swarm.ts', 'src/commands.ts'],
    compile: {
      outfile: file,
      ...(compileTarget ? { target: TARGETS[compileTarget] } : {}),
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
    plugins: [etcd3ProtoPlugin()],
    define: { SWARM_GIT_COMMIT: JSON.stringify(commit), ...(help ? { SWARM_HELP: JSON.stringify(help) } : {}) },
  });
  if (!result.success) {
    await rm(file, { force: true });
    for (const message of result.logs) console.error(message);
    process.exit(1);
  }
}

/**
 * What the binary at `file` prints for every help command line, without and with colours, from an
 * empty home (no theme) and a pipe (80 columns). The user agent line becomes USER_AGENT_MARK, as it
 * names the platform the binary runs on.
 */
async function renderHelp(file: string): Promise<PrerenderedHelp> {
  const home = await mkdtemp(join(tmpdir(), 'swarm-help-'));
  const help: PrerenderedHelp = { texts: [], plain: {}, bold: {} };
  const seen = new Map<string, number>();
  const userAgent = new RegExp(`^  (swarm/\\S+ ${process.platform}-${process.arch} node-\\S+)$`, 'm');
  const render = async (argv: string[], colors: boolean): Promise<void> => {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, FORCE_COLOR: colors ? '1' : '0' };
    const proc = Bun.spawn([resolve(file), ...argv], { cwd: home, env, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
    const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    // Only plain successes are kept; anything else is left to oclif at run time.
    if (code !== 0 || stderr !== '' || stdout === '') return;
    const text = stdout.replace(userAgent, `  ${USER_AGENT_MARK}`);
    let index = seen.get(text);
    if (index === undefined) {
      index = help.texts.push(text) - 1;
      seen.set(text, index);
    }
    (colors ? help.bold : help.plain)[helpKey(argv)] = index;
  };
  try {
    const jobs = helpCommandLines(COMMANDS).flatMap((argv) => [false, true].map((colors) => () => render(argv, colors)));
    // Two at a time: the build machine has two cores.
    for (let i = 0; i < jobs.length; i += 2) await Promise.all(jobs.slice(i, i + 2).map((job) => job()));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  for (const key of Object.keys(help.plain)) if (!(key in help.bold)) delete help.plain[key];
  for (const key of Object.keys(help.bold)) if (!(key in help.plain)) delete help.bold[key];
  if (!help.texts.some((t) => t.includes(USER_AGENT_MARK))) throw new Error('build: the root help has no user agent line; update renderHelp in scripts/build.ts');
  return help;
}

// Built under temporary names and renamed into place, so a test copying dist/swarm while a build
// runs never sees half a binary.
const helpless = `dist/.swarm-help-${process.pid}`;
const partial = `dist/.swarm-${process.pid}`;
let help: PrerenderedHelp;
try {
  await compile(helpless, undefined, undefined);
  help = await renderHelp(helpless);
} finally {
  await rm(helpless, { force: true });
}
await compile(partial, target === hostTarget ? undefined : (target as Target), help);
await rename(partial, outfile);
console.error(`built ${outfile} (${commit}, ${Object.keys(help.plain).length} help texts)`);
