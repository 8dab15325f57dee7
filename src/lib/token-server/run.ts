/** `swarm token-server`: open the data file, serve the protocol, purge expired entries, stop cleanly. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { formatListenAddress, listenOn, parseListenAddress } from '../listen';
import { parseDuration } from '../duration';
import { UserError } from '../errors';
import { log } from '../log';
import { createTokenServer } from './server';
import { TokenStore } from './store';

export const DEFAULT_TOKEN_SERVER_HOST = 'tcp://127.0.0.1:8600';

export function defaultDataFile(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir() || '/', '.local', 'state');
  return join(state, 'swarm', 'token-server.json');
}

export async function runTokenServer(opts: { hosts: string[]; dataFile: string; memory: boolean; clusterTtl?: string }, signal: AbortSignal): Promise<void> {
  const addrs = opts.hosts.map(parseListenAddress);
  if (!opts.memory && !opts.dataFile.trim()) throw new UserError('--data-file must name a file (use --memory to keep nothing)', 2);
  // Compared with timestamps, never a timer: any length is fine.
  const clusterTtlMs = parseDuration(opts.clusterTtl ?? '720h', '--cluster-ttl', Number.MAX_SAFE_INTEGER);
  if (clusterTtlMs < 0) throw new UserError('--cluster-ttl should be a positive number or 0', 2);
  const store = await TokenStore.open(opts.memory ? undefined : opts.dataFile, { clusterTtlMs });
  const servers = [];
  for (const addr of addrs) {
    const server = createTokenServer(store);
    await listenOn(server, addr);
    servers.push(server);
  }
  log.info('Token discovery service listening', {
    listen: addrs.map(formatListenAddress).join(','),
    data: opts.memory ? '(memory only)' : opts.dataFile,
    clusters: store.clusterCount,
  });
  const purge = setInterval(() => void store.purgeExpired().catch((err) => log.error(String(err))), 30_000);
  await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  clearInterval(purge);
  await Promise.all(
    servers.map((server) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    }),
  );
  await store.flush();
  log.info('Token discovery service stopped');
}
