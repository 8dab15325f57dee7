/**
 * The strategy contract and v1's weighing (scheduler/strategy/weighted_node.go), in integer math:
 * capacity with overcommit (resources.ts: v1's integer percent); a node smaller than the request is
 * skipped; cpuScore = (used+req)×100/capacity (100 when no CPUs requested), memScore likewise; the node
 * is eligible only if both ≤ 100; weight = cpuScore + memScore + healthFactor × healthIndicator.
 */
import { DEFAULT_OVERCOMMIT, withOvercommit } from '../resources';
import type { ContainerRequest, ContainerSnapshot, NodeSnapshot } from '../types';

export const NO_RESOURCES = 'no resources available to schedule container';

export interface StrategyOptions {
  /** `swarm.overcommit` (default 0.05; −0.2 under-commits). */
  overcommit?: number;
  /** Beyond v1: spread's tie-break counts only running (and pending) containers, not stopped ones. */
  spreadCountsRunningOnly?: boolean;
  /** Random source in [0, 1) for the random strategy (default Math.random). */
  rng?: () => number;
}

interface NodeScore {
  cpuScore: number;
  memoryScore: number;
  weight: number;
}

export interface RankedNode {
  node: NodeSnapshot;
  /** Absent for the random strategy, which does not weigh. */
  score?: NodeScore;
}

export type RankResult =
  | { ok: true; ranked: RankedNode[] }
  | { ok: false; error: string; /** node ID → why it cannot take the request */ rejected: Map<string, string> };

export interface Strategy {
  /** `spread`, `binpack`, `random`. */
  readonly name: string;
  rank(nodes: readonly NodeSnapshot[], request: ContainerRequest, options?: StrategyOptions): RankResult;
}

// The manager hands the same containers array for a node until the node changes: the sums are kept
// per array, so a placement over 1,000 nodes does not add up 30,000 reservations each time.
const used = new WeakMap<readonly ContainerSnapshot[], { cpus: number; memory: number }>();

function usedOf(node: NodeSnapshot): { cpus: number; memory: number } {
  let hit = used.get(node.containers);
  if (!hit) {
    hit = { cpus: 0, memory: 0 };
    for (const c of node.containers) {
      hit.cpus += c.cpus;
      hit.memory += c.memory;
    }
    used.set(node.containers, hit);
  }
  return hit;
}

function usedCpus(node: NodeSnapshot): number {
  return usedOf(node).cpus;
}

function usedMemory(node: NodeSnapshot): number {
  return usedOf(node).memory;
}

const RUNNING_STATES = new Set(['running', 'restarting', 'paused', 'pending']);

/** Containers counted by the tie-break: all of them (v1), or only live ones (running/paused/restarting/pending). */
export function containerCount(node: NodeSnapshot, runningOnly = false): number {
  if (!runningOnly) return node.containers.length;
  let n = 0;
  for (const c of node.containers) if (RUNNING_STATES.has(c.state)) n++;
  return n;
}

export interface Weighed {
  node: NodeSnapshot;
  score: NodeScore;
}

/**
 * v1's weighNodes with a health factor (−10 for spread, +10 for binpack). Returns the eligible nodes in
 * input order, or the rejections when none is.
 */
export function weighNodes(
  nodes: readonly NodeSnapshot[],
  request: ContainerRequest,
  healthFactor: number,
  overcommit: number = DEFAULT_OVERCOMMIT,
): { ok: true; weighed: Weighed[] } | { ok: false; rejected: Map<string, string> } {
  const weighed: Weighed[] = [];
  const rejected = new Map<string, string>();
  const reqCpus = request.cpus;
  const reqMemory = request.memory;
  for (const node of nodes) {
    const totalMemory = withOvercommit(node.totalMemory, overcommit);
    const totalCpus = withOvercommit(node.totalCpus, overcommit);
    const memTooSmall = totalMemory < reqMemory;
    const cpuTooSmall = totalCpus < reqCpus;
    if (memTooSmall || cpuTooSmall) {
      rejected.set(node.id, insufficient(cpuTooSmall, memTooSmall, 'node too small'));
      continue;
    }
    const cpuScore = reqCpus > 0 ? Math.trunc(((usedCpus(node) + reqCpus) * 100) / totalCpus) : 100;
    const memoryScore = reqMemory > 0 ? Math.trunc(((usedMemory(node) + reqMemory) * 100) / totalMemory) : 100;
    if (cpuScore <= 100 && memoryScore <= 100) {
      weighed.push({ node, score: { cpuScore, memoryScore, weight: cpuScore + memoryScore + healthFactor * node.healthIndicator } });
    } else {
      rejected.set(node.id, insufficient(cpuScore > 100, memoryScore > 100, 'reserved'));
    }
  }
  return weighed.length > 0 ? { ok: true, weighed } : { ok: false, rejected };
}

/**
 * The weighed nodes by weight, ties by container count, both ascending (`direction` 1) or descending
 * (-1); a stable sort, so equal nodes keep their input order. Sorts indexes over two number arrays
 * rather than a copy of every node with its count: this runs on every create, over every node.
 */
export function byWeightThenCount(weighed: readonly Weighed[], count: (node: NodeSnapshot) => number, direction: 1 | -1): RankedNode[] {
  const n = weighed.length;
  const weights = new Float64Array(n);
  const counts = new Float64Array(n);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    weights[i] = weighed[i]!.score.weight;
    counts[i] = count(weighed[i]!.node);
    order[i] = i;
  }
  order.sort((a, b) => direction * (weights[a]! - weights[b]! || counts[a]! - counts[b]!) || a - b);
  const ranked: RankedNode[] = new Array(n);
  for (let i = 0; i < n; i++) ranked[i] = weighed[order[i]!]!;
  return ranked;
}

function insufficient(cpu: boolean, memory: boolean, why: string): string {
  const what = cpu && memory ? 'cpus and memory' : cpu ? 'cpus' : 'memory';
  return `insufficient ${what} (${why})`;
}
