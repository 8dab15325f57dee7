/**
 * The pure scheduler alone: one placement over 1,000 nodes × 30 containers with regex and glob
 * expressions, the cost of matching untrusted patterns with RE2 (linear time) included.
 *
 *   node_modules/.bin/bun bench/scheduler.ts
 */
import { placeContainer, parseCreateRequest, type ContainerSnapshot, type NodeSnapshot } from '../src/lib/scheduler/index';
import { node, container } from '../test/unit/scheduler/fixtures';

const NODES = 1000;
const PER_NODE = 30;
const nodes: NodeSnapshot[] = [];
for (let n = 0; n < NODES; n++) {
  const containers: ContainerSnapshot[] = [];
  for (let c = 0; c < PER_NODE; c++) containers.push(container(`c${n}-${c}`, { names: [`app-${n}-${c}`], image: c % 2 ? 'redis' : 'nginx' }));
  nodes.push(node(`node-${n}`, { containers, labels: { storagedriver: n % 3 ? 'overlay2' : 'btrfs', environment: n % 2 ? 'production' : 'staging' } }));
}

const cases: [string, string[]][] = [
  ['no expression', []],
  ['constraint glob', ['constraint:environment==prod*']],
  ['constraint regex', ['constraint:node==/^node-[0-9]*7$/']],
  ['affinity regex over 30,000 containers', ['affinity:container!=/^app-1-(1|2)$/']],
  ['catastrophic regex over 30,000 containers', ['affinity:container!=/^(a+)+$/']],
];
const options = { strategy: 'spread', filters: ['health', 'port', 'containerslots', 'dependency', 'affinity', 'constraint', 'whitelist'], overcommit: 0.05, spreadCountsRunningOnly: false };
for (const [name, env] of cases) {
  const request = parseCreateRequest({ Image: 'busybox', Env: env });
  const runs: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    const r = placeContainer(nodes, request, options);
    runs.push(performance.now() - t0);
    if (!r.ok) throw new Error(`${name}: ${r.error.message}`);
  }
  runs.sort((a, b) => a - b);
  console.log(`${name.padEnd(44)} p50 ${runs[15]!.toFixed(2)} ms  p90 ${runs[27]!.toFixed(2)} ms`);
}
