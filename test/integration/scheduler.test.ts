/**
 * The scheduler end to end, as a user sees it: the compiled `swarm manage` over 3 real testbed engines
 * (overlay2, btrfs, vfs; engine labels init/environment as in the Swarm talk), driven by the real
 * docker CLI. Four managers share the engines: the default spread one (with a drain state file),
 * binpack, random (custom filters, under-commit) and spread counting only running containers.
 *
 *   TESTBED_ID=4 npm run build && TESTBED_ID=4 node_modules/.bin/bun test --timeout 300000 test/integration/scheduler.test.ts
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, SwarmBinary, waitFor, type RunningSwarm } from '../helpers/swarm-bin';
import { clusterKindFromEnv, run, testbedDown, testbedUp, type CliResult, type TestbedHost } from '../helpers/testbed';

let bin: SwarmBinary;
let work = '';
let hosts: TestbedHost[] = [];
const P = `s${Date.now().toString(36)}`; // unique name prefix for this run

interface Manager {
  host: string;
  args: string[];
  proc: RunningSwarm;
}
const managers: Record<'main' | 'binpack' | 'random' | 'running', Manager | undefined> = {
  main: undefined,
  binpack: undefined,
  random: undefined,
  running: undefined,
};
let stateFile = '';

function docker(host: string, args: string[], timeoutS = 60): Promise<CliResult> {
  return run(['docker', '-H', host, ...args], { timeoutMs: timeoutS * 1000, env: { DOCKER_CONFIG: join(work, '.docker') } });
}

async function ok(host: string, args: string[]): Promise<string> {
  const r = await docker(host, args);
  if (r.code !== 0) throw new Error(`docker -H ${host} ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function m(name: keyof typeof managers): string {
  const mgr = managers[name];
  if (!mgr) throw new Error(`manager ${name} is not running`);
  return mgr.host;
}

/** `docker -H <main manager>`. */
const main = (args: string[]) => docker(m('main'), args);
const mainOk = (args: string[]) => ok(m('main'), args);

async function nodeOf(name: string, host = m('main')): Promise<string> {
  return (await ok(host, ['inspect', '-f', '{{.Node.Name}}', name])).trim();
}

async function info(host: string): Promise<string> {
  return (await docker(host, ['info'], 20)).stdout;
}

/** The `docker info` lines of one node: from `  <name>: <addr>` to the next node. */
function nodeBlock(text: string, name: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`  ${name}: `));
  if (start < 0) return '';
  const out = [lines[start]!];
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith('   └')) break;
    out.push(l);
  }
  return out.join('\n');
}

async function startManager(args: string[], port?: number): Promise<Manager> {
  const host = `tcp://127.0.0.1:${port ?? (await freePort())}`;
  const full = [
    'manage',
    '-H',
    host,
    '--engine-refresh-min-interval',
    '1s',
    '--engine-refresh-max-interval',
    '2s',
    ...args,
    `nodes://${hosts.map((h) => h.addr).join(',')}`,
  ];
  const proc = bin.start(full);
  await waitFor(`3 healthy nodes on ${host}`, async () => ((await info(host)).match(/└ Status: Healthy/g)?.length === 3 ? true : undefined), 60_000, 300);
  return { host, args, proc };
}

/** `swarm node ...` through the compiled binary. */
function swarmNode(args: string[]) {
  return bin.run(['node', ...args], { timeoutMs: 20_000 });
}

function host(storageDriver: string): TestbedHost {
  const h = hosts.find((x) => x.storageDriver === storageDriver);
  if (!h) throw new Error(`no ${storageDriver} host`);
  return h;
}

/** Per node: containers (any state) and running ones, as a manager lists them. */
async function counts(mgr: string): Promise<Record<string, { total: number; running: number }>> {
  const out: Record<string, { total: number; running: number }> = {};
  for (const h of hosts) out[h.name] = { total: 0, running: 0 };
  const ps = await ok(mgr, ['ps', '-a', '--format', '{{.Names}} {{.State}}']);
  for (const line of ps.split('\n').filter(Boolean)) {
    const [names, state] = line.split(' ');
    const node = names!.split('/')[0]!;
    if (!out[node]) continue;
    out[node].total++;
    if (state === 'running') out[node].running++;
  }
  return out;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'swarm-sched-it-'));
  stateFile = join(work, 'drain.json');
  // SWARM_TEST_CLUSTER=mixed: host 2 is dockerd 26 refusing API < 1.44 (as Engine 29), the others 20.10.
  hosts = await testbedUp(3, {
    ...clusterKindFromEnv(),
    storage: ['overlay2', 'btrfs', 'vfs'],
    labels: { 1: { init: 'systemd', environment: 'production' }, 2: { init: 'sysv' }, 3: { environment: 'staging' } },
  });
  bin = new SwarmBinary();
  const started = await Promise.all([
    startManager(['--cluster-opt', `swarm.drain.state-file=${stateFile}`]),
    startManager(['--strategy', 'binpacking']),
    startManager(['--strategy', 'random', '--filter', 'constraint', '--filter', 'port', '--filter', 'health', '--cluster-opt', 'swarm.overcommit=-0.5']),
    startManager(['--cluster-opt', 'swarm.spread.running-only=true', '--cluster-opt', 'swarm.createretry=2']),
  ]);
  managers.main = started[0];
  managers.binpack = started[1];
  managers.random = started[2];
  managers.running = started[3];
}, 600_000);

afterAll(async () => {
  for (const mgr of Object.values(managers)) await mgr?.proc.stop();
  bin?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
  await testbedDown().catch(() => undefined);
}, 180_000);

describe('configuration reaches the scheduler', () => {
  test('docker info shows each manager\'s strategy, filters and overcommitted capacity', async () => {
    const def = await info(m('main'));
    expect(def).toContain('Strategy: spread\n');
    expect(def).toContain('Filters: health, port, containerslots, dependency, affinity, constraint, whitelist\n');
    expect(nodeBlock(def, 'node-1')).toContain('└ Reserved CPUs: 0 / 2');
    expect(nodeBlock(def, 'node-1')).toContain('└ Labels: environment=production, init=systemd');
    expect(nodeBlock(def, 'node-2')).toMatch(/└ Labels: init=sysv, .*storagedriver=btrfs/);
    expect(await info(m('binpack'))).toContain('Strategy: binpack\n'); // --strategy binpacking is the alias
    const random = await info(m('random'));
    expect(random).toContain('Strategy: random\n');
    expect(random).toContain('Filters: constraint, port, health\n');
    // swarm.overcommit=-0.5: half of each engine's 2 CPUs
    expect(nodeBlock(random, 'node-3')).toContain('└ Reserved CPUs: 0 / 1');
  });

  test('--filter order decides v1\'s error listing: constraint first stops before port', async () => {
    const r = await docker(m('random'), ['run', '-d', '-p', '8181:80', '-e', 'constraint:node==nowhere', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('Unable to find a node that satisfies the following conditions \n[node==nowhere]\n');
    expect(r.stderr).not.toContain('Bridge mode');
    expect(r.stderr).not.toContain('available container slots');
  });

  test('bad --strategy, --filter and --cluster-opt values stop manage with v1\'s words', async () => {
    const cases: [string[], string][] = [
      [['--strategy', 'roundrobin'], 'strategy not supported'],
      [['--filter', 'health', '--filter', 'nearby'], 'filter not supported'],
      [['--cluster-opt', 'swarm.overcommit=-1'], 'swarm.overcommit should be larger than -1'],
      [['--cluster-opt', 'swarm.createretry=-1'], 'swarm.createretry can not be negative'],
      [['--cluster-opt', 'swarm.spread.running-only=often'], 'swarm.spread.running-only'],
    ];
    for (const [args, text] of cases) {
      const r = await bin.run(['manage', '-H', `127.0.0.1:${await freePort()}`, ...args, 'nodes://127.0.0.1:1']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(text);
    }
  });
});

describe('create retries', () => {
  test('swarm.createretry=2 tries a failing create twice more, then reports the engine\'s error', async () => {
    const args = ['run', '-d', '--security-opt', 'no-new-privileges=maybe', 'busybox', 'true'];
    const retried = await docker(m('running'), args);
    expect(retried.code).toBe(125);
    expect(retried.stderr).toContain('invalid --security-opt 2: "no-new-privileges=maybe"');
    const log = managers.running!.proc.log() + managers.running!.proc.stdout();
    expect(log.match(/Failed to create container: invalid --security-opt.*, retrying/g)).toHaveLength(2);
    const once = await main(args);
    expect(once.code).toBe(125);
    expect(once.stderr).toContain('invalid --security-opt');
    expect(managers.main!.proc.log() + managers.main!.proc.stdout()).not.toContain('Failed to create container');
  });

  test('a 404 that is not about the image (a missing volume plugin) is reported, not answered with a pull', async () => {
    const r = await main(['run', '-d', '--volume-driver', `${P}-noplugin`, '-v', `${P}-vol:/x`, 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`plugin "${P}-noplugin" not found`);
    expect(r.stderr).not.toContain('pull');
  }, 60_000);
});

describe('constraints', () => {
  test('constraint:storagedriver==btrfs lands on the btrfs host; the env entry becomes a label', async () => {
    await mainOk(['run', '-d', '--name', `${P}-fs`, '-e', 'constraint:storagedriver==btrfs', '-e', 'KEEP=me', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-fs`)).toBe(host('btrfs').name);
    const env = await mainOk(['inspect', '-f', '{{json .Config.Env}}', `${P}-fs`]);
    expect(env).toContain('KEEP=me');
    expect(env).not.toContain('constraint');
    const label = await mainOk(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.constraints"}}', `${P}-fs`]);
    expect(label.trim()).toBe('["storagedriver==btrfs"]');
    // the engine itself holds the label, so it survives the manager
    const direct = await ok(host('btrfs').addr, ['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.constraints"}}', `${P}-fs`]);
    expect(direct.trim()).toBe('["storagedriver==btrfs"]');
  });

  test('init==systemd, environment==production, init!=systemd, globs, regexps, soft and label forms', async () => {
    await mainOk(['run', '-d', '--name', `${P}-sysd`, '-e', 'constraint:init==systemd', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-sysd`)).toBe('node-1');
    await mainOk(['run', '-d', '--name', `${P}-prod`, '-e', 'constraint:environment==production', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-prod`)).toBe('node-1');
    for (const i of [1, 2, 3]) {
      await mainOk(['run', '-d', '--name', `${P}-notsysd${i}`, '-e', 'constraint:init!=systemd', 'busybox', 'sleep', '600']);
      expect(await nodeOf(`${P}-notsysd${i}`)).not.toBe('node-1');
    }
    await mainOk(['run', '-d', '--name', `${P}-glob`, '-e', 'constraint:storagedriver==*fs', 'busybox', 'sleep', '600']);
    expect(['btrfs', 'vfs'].map((d) => host(d).name)).toContain(await nodeOf(`${P}-glob`));
    await mainOk(['run', '-d', '--name', `${P}-re`, '-e', 'constraint:node==/node-[3]/', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-re`)).toBe('node-3');
    await mainOk(['run', '-d', '--name', `${P}-soft`, '-e', 'constraint:environment==~qa', 'busybox', 'sleep', '600']);
    expect(['node-1', 'node-2', 'node-3']).toContain(await nodeOf(`${P}-soft`));
    await mainOk(['run', '-d', '--name', `${P}-lbl`, '-l', 'com.docker.swarm.constraints=["init==sysv"]', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-lbl`)).toBe('node-2');
    await mainOk(['run', '-d', '--name', `${P}-wl`, '-e', 'whitelist:node==node-2|node-3', 'busybox', 'sleep', '600']);
    expect(['node-2', 'node-3']).toContain(await nodeOf(`${P}-wl`));
  });

  test('constraints are ANDed: staging and sysv is nowhere, and the error says why per node', async () => {
    const r = await main(['run', '-d', '-e', 'constraint:environment==staging', '-e', 'constraint:init==sysv', 'busybox', 'true']);
    expect(r.code).toBe(125);
    // (the docker CLI does not keep the order of -e entries: either expression may be checked first)
    expect(r.stderr).toMatch(
      /Unable to find a node that satisfies the following conditions \n\[available container slots\]\n\[(environment==staging init==sysv|init==sysv environment==staging)\]\n/,
    );
    expect(r.stderr).toMatch(
      /0\/3 nodes are available: (2 nodes: constraint environment==staging not met \(node-1, node-2\); node-3: constraint init==sysv not met|2 nodes: constraint init==sysv not met \(node-1, node-3\); node-2: constraint environment==staging not met)\n/,
    );
  });
});

describe('affinities', () => {
  test('affinity:container==web1 lands with web1, != avoids it; container-label affinity', async () => {
    await mainOk(['run', '-d', '--name', `${P}-web1`, '-l', 'com.example.tier=front', 'busybox', 'sleep', '600']);
    const web1 = await nodeOf(`${P}-web1`);
    for (const i of [1, 2]) {
      await mainOk(['run', '-d', '--name', `${P}-with${i}`, '-e', `affinity:container==${P}-web1`, 'busybox', 'sleep', '600']);
      expect(await nodeOf(`${P}-with${i}`)).toBe(web1);
    }
    await mainOk(['run', '-d', '--name', `${P}-away`, '-e', `affinity:container!=${P}-web1`, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-away`)).not.toBe(web1);
    await mainOk(['run', '-d', '--name', `${P}-tier`, '-e', 'affinity:com.example.tier==front', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-tier`)).toBe(web1);
    const label = await mainOk(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.affinities"}}', `${P}-with1`]);
    expect(label.trim()).toBe(`["container==${P}-web1"]`);
  });

  test('affinity:image== an image only one host has lands there; so does running that image', async () => {
    const only = host('vfs');
    const image = `${P}-only:v1`;
    await ok(only.addr, ['tag', 'busybox', image]);
    await waitFor('the manager to see the new tag', async () => ((await mainOk(['images', '--format', '{{.Repository}}:{{.Tag}}'])).includes(image) ? true : undefined), 20_000, 300);
    await mainOk(['run', '-d', '--name', `${P}-img`, '-e', `affinity:image==${image}`, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-img`)).toBe(only.name);
    // No registry here. A soft constraint sends the first attempt to another host, whose engine has no
    // such image (and cannot pull it): the create is retried with the affinity image==<image>, and the
    // soft constraint gives way. The affinity is not written to the container's labels (as in v1).
    const elsewhere = hosts.find((h) => h.name !== only.name)!.name;
    await mainOk(['run', '-d', '--name', `${P}-imgrun`, '-e', `constraint:node==~${elsewhere}`, image, 'sleep', '600']);
    expect(await nodeOf(`${P}-imgrun`)).toBe(only.name);
    const labels = await mainOk(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.constraints"}} {{index .Config.Labels "com.docker.swarm.affinities"}}', `${P}-imgrun`]);
    expect(labels.trim()).toBe(`["node==~${elsewhere}"]`); // and no affinities label
  });
});

describe('dependencies and networks', () => {
  test('--volumes-from, --link and --net container: land with their dependency', async () => {
    await mainOk(['run', '-d', '--name', `${P}-dep`, '-v', '/data', '-e', 'constraint:node==node-3', 'busybox', 'sleep', '600']);
    await mainOk(['run', '-d', '--name', `${P}-vf`, '--volumes-from', `${P}-dep`, 'busybox', 'sleep', '600']);
    await mainOk(['run', '-d', '--name', `${P}-lk`, '--link', `${P}-dep:db`, 'busybox', 'sleep', '600']);
    await mainOk(['run', '-d', '--name', `${P}-nc`, '--net', `container:${P}-dep`, 'busybox', 'sleep', '600']);
    for (const c of ['vf', 'lk', 'nc']) expect(await nodeOf(`${P}-${c}`)).toBe('node-3');
    const r = await main(['run', '-d', '--volumes-from', `${P}-dep`, '-e', 'constraint:node==node-1', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`[--volumes-from=${P}-dep]`);
  });

  test('a network local to one engine adds the soft constraint node==~<engine>', async () => {
    await ok(hosts[0]!.addr, ['network', 'create', `${P}-net`]);
    await waitFor('the manager to see the network', async () => ((await mainOk(['network', 'ls', '--format', '{{.Name}}'])).includes(`node-1/${P}-net`) ? true : undefined), 20_000, 300);
    await mainOk(['run', '-d', '--name', `${P}-onnet`, '--net', `${P}-net`, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-onnet`)).toBe('node-1');
    const label = await mainOk(['inspect', '-f', '{{index .Config.Labels "com.docker.swarm.constraints"}} {{.HostConfig.NetworkMode}}', `${P}-onnet`]);
    expect(label.trim()).toBe(`["node==~node-1"] ${P}-net`);
  });
});

describe('ports and the explanation', () => {
  test('two -p 80:80 land on different hosts; with 3 hosts the fourth fails naming every node', async () => {
    await mainOk(['run', '-d', '--name', `${P}-p1`, '-p', '80:80', 'busybox', 'sleep', '600']);
    await mainOk(['run', '-d', '--name', `${P}-p2`, '-p', '80:80', 'busybox', 'sleep', '600']);
    const n1 = await nodeOf(`${P}-p1`);
    const n2 = await nodeOf(`${P}-p2`);
    expect(n1).not.toBe(n2);
    await mainOk(['run', '-d', '--name', `${P}-p3`, '-p', '80:80', 'busybox', 'sleep', '600']);
    const r = await main(['run', '-d', '--name', `${P}-p4`, '-p', '80:80', 'busybox', 'sleep', '600']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('docker: Error response from daemon: Unable to find a node that satisfies the following conditions \n[port 80 (Bridge mode)]\n');
    expect(r.stderr).toContain('0/3 nodes are available: 3 nodes: port 80 in use (node-1, node-2, node-3)');
    // the manager keeps serving
    expect((await mainOk(['version', '--format', '{{.Server.Version}}'])).trim()).toBe('swarm/1.2.9');
  });

  test('different reasons on different nodes are each named', async () => {
    await mainOk(['run', '-d', '--name', `${P}-q1`, '-p', '8080:80', '-e', 'constraint:node==node-1', 'busybox', 'sleep', '600']);
    const r = await main(['run', '-d', '-p', '8080:80', '-e', 'constraint:storagedriver==overlay2', 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('[port 8080 (Bridge mode)]\n[available container slots]\n[storagedriver==overlay2]');
    expect(r.stderr).toContain('0/3 nodes are available: 2 nodes: constraint storagedriver==overlay2 not met (node-2, node-3); node-1: port 8080 in use');
  });

  test('every bad expression gets v1\'s message; nothing crashes', async () => {
    const cases: [string, string][] = [
      ['constraint:storagedriver', 'One of operator ==, != is expected'],
      ['constraint:1disk==ssd', "Key '1disk' is invalid"],
      ['constraint:disk==ss%d', "Value 'ss%d' is invalid"],
      ['affinity:container~=web', 'One of operator ==, != is expected'],
      ['reschedule:sometimes', 'invalid reschedule policy: sometimes'],
    ];
    for (const [env, text] of cases) {
      const r = await main(['run', '-d', '-e', env, 'busybox', 'true']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(text);
    }
    const two = await main(['run', '-d', '-e', 'reschedule:off', '-e', 'reschedule:on-node-failure', 'busybox', 'true']);
    expect(two.stderr).toContain('too many reschedule policies');
    const parse = await main(['run', '-d', '-e', 'constraint:1disk==ssd', 'busybox', 'true']);
    expect(parse.stderr).toContain('error from constraint filter: Key \'1disk\' is invalid');
    expect((await mainOk(['version', '--format', '{{.Server.Version}}'])).trim()).toBe('swarm/1.2.9');
  });
});

describe('strategies', () => {
  test('binpack (-m) fills one host before the next, then has no resources left', async () => {
    const raw = Number((await ok(hosts[0]!.addr, ['info', '--format', '{{.MemTotal}}'])).trim());
    // 40% of a host: two fit in its 105% capacity, a third does not
    const mem = `${Math.floor((raw * 0.4) / 2 ** 20)}m`;
    const bp = m('binpack');
    const nodes: string[] = [];
    for (const i of [1, 2, 3, 4, 5, 6]) {
      await ok(bp, ['run', '-d', '--name', `${P}-bp${i}`, '-m', mem, 'busybox', 'sleep', '600']);
      nodes.push(await nodeOf(`${P}-bp${i}`, bp));
    }
    expect(nodes[0]).toBe(nodes[1]!);
    expect(nodes[2]).toBe(nodes[3]!);
    expect(nodes[4]).toBe(nodes[5]!);
    expect(new Set([nodes[0], nodes[2], nodes[4]]).size).toBe(3);
    const full = await docker(bp, ['run', '-d', '-m', mem, 'busybox', 'true']);
    expect(full.code).toBe(125);
    expect(full.stderr).toContain('no resources available to schedule container');
    expect(full.stderr).toContain('0/3 nodes are available: 3 nodes: insufficient memory (reserved)');
    await ok(bp, ['rm', '-f', ...[1, 2, 3, 4, 5, 6].map((i) => `${P}-bp${i}`)]);
  }, 180_000);

  test('random places without error', async () => {
    const seen = new Set<string>();
    for (const i of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
      await ok(m('random'), ['run', '-d', '--name', `${P}-rnd${i}`, 'busybox', 'sleep', '600']);
      seen.add(await nodeOf(`${P}-rnd${i}`, m('random')));
    }
    expect(seen.size).toBeGreaterThan(1);
  }, 120_000);

  test('spread counts stopped containers (v1); swarm.spread.running-only=true does not', async () => {
    const target = 'node-3';
    // node-3: nothing running; node-1 and node-2: something running
    const running = (await mainOk(['ps', '-q', '--filter', `node=${target}`])).split('\n').filter(Boolean);
    if (running.length) await mainOk(['kill', ...running]);
    for (const n of ['node-1', 'node-2']) await mainOk(['run', '-d', '--name', `${P}-live-${n}`, '-e', `constraint:node==${n}`, 'busybox', 'sleep', '600']);
    // node-3: strictly the most containers in total
    let c = await counts(m('main'));
    const need = Math.max(c['node-1']!.total, c['node-2']!.total) - c[target]!.total + 1;
    for (let i = 0; i < need; i++) await mainOk(['create', '-e', `constraint:node==${target}`, 'busybox', 'true']);
    c = await counts(m('main'));
    expect(c[target]!.running).toBe(0);
    expect(c[target]!.total).toBeGreaterThan(Math.max(c['node-1']!.total, c['node-2']!.total));
    // the running-only manager sees the same (through engine events)
    await waitFor('the running-only manager to catch up', async () => (JSON.stringify(await counts(m('running'))) === JSON.stringify(c) ? true : undefined), 20_000, 300);

    await mainOk(['run', '-d', '--name', `${P}-v1spread`, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-v1spread`)).not.toBe(target);
    await ok(m('running'), ['run', '-d', '--name', `${P}-runspread`, 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-runspread`, m('running'))).toBe(target);
  }, 180_000);
});

describe('drain', () => {
  test('a drained node gets nothing new, keeps its containers, and docker info shows it', async () => {
    await mainOk(['run', '-d', '--name', `${P}-keep`, '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600']);
    const d = await swarmNode(['drain', 'node-2', '-H', m('main')]);
    expect(d.code).toBe(0);
    expect(d.stdout).toMatch(/^node-2 drained: no new containers will be scheduled there; its \d+ running container\(s\) keep running\n$/);
    expect(d.stderr).not.toContain('not persisted');
    const text = await info(m('main'));
    expect(nodeBlock(text, 'node-2')).toContain('└ Status: Healthy\n   └ Availability: drain\n');
    expect(nodeBlock(text, 'node-1')).not.toContain('Availability');
    for (const i of [1, 2, 3, 4, 5, 6]) {
      await mainOk(['run', '-d', '--name', `${P}-dr${i}`, 'busybox', 'sleep', '600']);
      expect(await nodeOf(`${P}-dr${i}`)).not.toBe('node-2');
    }
    expect((await mainOk(['inspect', '-f', '{{.State.Running}}', `${P}-keep`])).trim()).toBe('true');
    expect(await mainOk(['ps', '--format', '{{.Names}}'])).toContain(`node-2/${P}-keep`);
    const pinned = await main(['run', '-d', '-e', 'constraint:node==node-2', 'busybox', 'true']);
    expect(pinned.code).toBe(125);
    expect(pinned.stderr).toContain('node-2: drained');
    const ls = await swarmNode(['ls', '-H', m('main')]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^node-2\s+\S+:2375\s+Healthy\s+drain\s+/m);
    expect(ls.stdout).toMatch(/^node-1\s+\S+:2375\s+Healthy\s+active\s+/m);
    // an unknown node is an error, not a silent no-op
    const nope = await swarmNode(['drain', 'node-9', '-H', m('main')]);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toContain('No such node: node-9');
  }, 120_000);

  test('the drain survives a manager restart with a state file; without one the CLI warns', async () => {
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).nodes['node-2'].availability).toBe('drain');
    const old = managers.main!;
    await old.proc.stop();
    const port = Number(old.host.split(':').pop());
    managers.main = await startManager(old.args, port);
    expect(nodeBlock(await info(m('main')), 'node-2')).toContain('└ Availability: drain');
    await mainOk(['run', '-d', '--name', `${P}-after`, '-e', 'constraint:node!=node-1', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-after`)).toBe('node-3');

    const w = await swarmNode(['drain', 'node-3', '-H', m('random')]);
    expect(w.code).toBe(0);
    expect(w.stderr).toContain('Warning: not persisted');
    expect(nodeBlock(await info(m('random')), 'node-3')).toContain('└ Availability: drain');
    expect(nodeBlock(await info(m('main')), 'node-3')).not.toContain('Availability');
    expect((await swarmNode(['activate', 'node-3', '-H', m('random')])).code).toBe(0);
  }, 180_000);

  test('activate restores the node', async () => {
    const a = await swarmNode(['activate', 'node-2', '-H', m('main')]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe('node-2 active: it takes new containers again\n');
    expect(nodeBlock(await info(m('main')), 'node-2')).not.toContain('Availability');
    await mainOk(['run', '-d', '--name', `${P}-back`, '-e', 'constraint:node==node-2', 'busybox', 'sleep', '600']);
    expect(await nodeOf(`${P}-back`)).toBe('node-2');
    expect(JSON.parse(readFileSync(stateFile, 'utf8')).nodes).toEqual({});
  });
});
