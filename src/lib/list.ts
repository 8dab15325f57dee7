/** `swarm list`: one look at the discovery backend, as a sorted list of `host:port`. */
import { createDiscovery } from './discovery/registry';
import type { DiscoveryConfig } from './discovery/types';
import { parseDuration } from './duration';
import { callJson, EngineHttpError, targetOf } from './engine/http';
import { UserError } from './errors';
import { paintState } from './cli/color';
import { formatTable } from './cli/table';

export async function listNodes(url: string, timeout: string, config: Omit<DiscoveryConfig, 'heartbeatMs' | 'ttlMs'>): Promise<string[]> {
  const timeoutMs = parseDuration(timeout, '--timeout');
  if (timeoutMs <= 0) throw new UserError('--timeout should be a positive number', 2);
  const discovery = await createDiscovery(url, { ...config, heartbeatMs: timeoutMs, ttlMs: timeoutMs * 3 });
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  try {
    for await (const event of discovery.watch(stop.signal)) {
      if (event.kind === 'entries') return event.entries;
      throw event.error instanceof UserError ? event.error : new UserError(event.error.message);
    }
    throw new UserError(`Timed out after ${timeout} waiting for ${discovery.description}`);
  } finally {
    clearTimeout(timer);
    stop.abort();
  }
}

export interface NodeProbe {
  addr: string;
  /** answers, unreachable, or not probed (TLS engines need certificates this command does not have). */
  state: 'answers' | 'unreachable' | 'not probed (TLS)';
  name: string;
  version: string;
}

/**
 * Asks each engine its name and version (`GET /info`), a few at a time, each bounded by `timeoutMs`:
 * what the table shows beside each address (discovery only knows addresses).
 */
export async function probeNodes(addrs: readonly string[], timeoutMs = 2000, concurrency = 32): Promise<NodeProbe[]> {
  const out: NodeProbe[] = new Array(addrs.length);
  let next = 0;
  const worker = async () => {
    while (next < addrs.length) {
      const i = next++;
      const addr = addrs[i]!;
      if (addr.endsWith(':2376')) {
        out[i] = { addr, state: 'not probed (TLS)', name: '', version: '' };
        continue;
      }
      try {
        const info = await callJson<{ Name?: unknown; ServerVersion?: unknown } | undefined>(targetOf(addr), 'GET', '/info', { timeoutMs });
        out[i] = { addr, state: 'answers', name: typeof info?.Name === 'string' ? info.Name : '', version: typeof info?.ServerVersion === 'string' ? info.ServerVersion : '' };
      } catch (err) {
        // An HTTP error is still an answer (the address serves the API).
        out[i] = { addr, state: err instanceof EngineHttpError ? 'answers' : 'unreachable', name: '', version: '' };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, addrs.length) }, worker));
  return out;
}

/** `swarm list --format table`: address, engine name, whether it answers, its version. */
export function formatNodeTable(probes: readonly NodeProbe[]): string {
  const rows = [['ADDRESS', 'NAME', 'ENGINE', 'VERSION'], ...probes.map((p) => [p.addr, p.name || '-', p.state, p.version || '-'])];
  return formatTable(rows, (column, cell) => (column === 2 ? paintState(cell) : cell));
}
