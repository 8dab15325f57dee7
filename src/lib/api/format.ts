/** Docker's renderings: durations in `docker ps` Status, binary sizes in `docker info`, RFC 3339 times. */
import type { ContainerState } from '../engine/docker-types';

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  // go-units uses the unrounded hours here.
  return `${Math.floor(ms / 3_600_000 / 24 / 365)} years`;
}

const BINARY = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** go-units BytesSize with v1's spacing: `1 GiB`, `2.053 GiB`. */
export function bytesSize(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < BINARY.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))} ${BINARY[i]}`;
}

function since(iso: string | undefined, now: number): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? Math.max(0, now - t) : 0;
}

/** The Status column of `docker ps`, recomputed from an inspect State (the cached text goes stale). */
export function containerStatus(state: ContainerState | null | undefined, fallback: string, now = Date.now()): string {
  if (!state || typeof state !== 'object') return fallback;
  const health = state.Health?.Status;
  const healthText = health === 'starting' ? ' (health: starting)' : health && health !== 'none' ? ` (${health})` : '';
  switch (state.Status) {
    case 'running':
      return `Up ${humanDuration(since(state.StartedAt, now))}${healthText}`;
    case 'paused':
      return `Up ${humanDuration(since(state.StartedAt, now))} (Paused)`;
    case 'restarting':
      return `Restarting (${state.ExitCode}) ${humanDuration(since(state.FinishedAt, now))} ago`;
    case 'exited':
      return `Exited (${state.ExitCode}) ${humanDuration(since(state.FinishedAt, now))} ago`;
    case 'created':
      return 'Created';
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    default:
      return fallback;
  }
}

// One collator for every comparison: localeCompare with options builds a new one per call, which
// made sorting a 1,000-node `docker info` cost tens of milliseconds.
const natural = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

/** Natural sort (node-2 before node-10). */
export function naturalCompare(a: string, b: string): number {
  return natural.compare(a, b);
}

/**
 * An RFC 3339 time (Docker's inspect `Created`, nanoseconds) as nanoseconds since the epoch, for
 * ordering containers created within one second; undefined when it does not parse.
 */
export function rfc3339Nanos(iso: string | undefined): bigint | undefined {
  if (!iso) return undefined;
  const m = /^(.*?T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/.exec(iso);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}
