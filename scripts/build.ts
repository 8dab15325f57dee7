/**
 * Builds the single `dist/swarm` executable with `bun build --compile`. The Bun.build API (not the
 * CLI) is used because plugins are needed to make some libraries work inside the binary.
 * The binary must not read .env or bunfig.toml from the directory it runs in.
 */
import { $, type BunPlugin } from 'bun';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

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

const commit = (await $`git rev-parse --short HEAD`.quiet().nothrow()).stdout.toString().trim() || 'unknown';
await mkdir('dist', { recursive: true });
// Built under a temporary name and renamed into place, so a test copying dist/swarm while a build
// runs never sees half a binary.
const partial = `dist/.swarm-${process.pid}`;

const result = await Bun.build({
  entrypoints: ['bin/swarm.ts', 'src/commands.ts'],
  compile: {
    outfile: partial,
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
  define: { SWARM_GIT_COMMIT: JSON.stringify(commit) },
});

if (!result.success) {
  await rm(partial, { force: true });
  for (const message of result.logs) console.error(message);
  process.exit(1);
}
await rename(partial, 'dist/swarm');
console.error(`built dist/swarm (${commit})`);
