/** `swarm list`: one look at the discovery backend, as a sorted list of `host:port`. */
import { createDiscovery } from './discovery/registry';
import type { DiscoveryConfig } from './discovery/types';
import { parseDuration } from './duration';
import { UserError } from './errors';

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
