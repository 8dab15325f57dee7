/**
 * The resource rules Swarm v1 applies to engines and containers, one place each: overcommit (capacity
 * = raw + raw×pct/100, pct = trunc(ratio×100), as `docker info` and the strategies both show it) and
 * CPUs (`-c` / CpuShares read as a number of CPUs, sent to an engine as shares, read back from them).
 */

export const DEFAULT_OVERCOMMIT = 0.05;

/** v1 keeps the overcommit ratio as an integer percent: int64(ratio × 100), so 0.29 is 28 %. */
export function overcommitPercent(ratio: number): number {
  return Math.trunc(ratio * 100);
}

/** A raw engine amount (NCPU, MemTotal) with overcommit applied as v1 does: raw + raw×pct/100 (integer division). */
export function withOvercommit(raw: number, ratio: number = DEFAULT_OVERCOMMIT): number {
  return raw + Math.trunc((raw * overcommitPercent(ratio)) / 100);
}

/** Engine CpuShares for all of an engine's CPUs. */
const SHARES_PER_ENGINE = 1024;

/** ceil(n×1024 / engineCpus): the CpuShares sent to an engine for a request of `n` CPUs. */
export function cpusToShares(n: number, engineCpus: number): number {
  if (n <= 0) return 0;
  return Math.ceil((n * SHARES_PER_ENGINE) / (engineCpus > 0 ? engineCpus : 1));
}

/** shares×engineCpus/1024 in integer math: the CPUs a container created with `shares` reserves. */
export function sharesToCpus(shares: number, engineCpus: number): number {
  return Math.trunc((shares * engineCpus) / SHARES_PER_ENGINE);
}

/** HostConfig.NanoCpus (`docker run --cpus`) per CPU. */
const NANO_CPUS = 1e9;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * The one rule for the CPUs a container reserves: `-c` (CpuShares, read as a number of CPUs, as v1
 * does) and `--cpus` (NanoCpus, which the engine enforces as a limit); with both, the larger. `cpus`
 * is the CpuShares value already read as CPUs.
 */
function reservedCpus(cpus: number, nanoCpus: number): number {
  return Math.max(cpus > 0 ? cpus : 0, nanoCpus > 0 ? nanoCpus / NANO_CPUS : 0);
}

/** The CPUs a create request reserves (its CpuShares still counts CPUs). */
export function requestedCpus(hostConfig: { CpuShares?: unknown; NanoCpus?: unknown }): number {
  return reservedCpus(num(hostConfig.CpuShares), num(hostConfig.NanoCpus));
}

/** The CPUs an engine's container reserves: its CpuShares are engine shares (sharesToCpus). */
export function containerCpus(hostConfig: { CpuShares?: unknown; NanoCpus?: unknown }, engineCpus: number): number {
  return reservedCpus(sharesToCpus(num(hostConfig.CpuShares), engineCpus), num(hostConfig.NanoCpus));
}
