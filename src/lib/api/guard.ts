/**
 * What keeps one client from freezing or flooding the manager: a cap on connections per client
 * address and in total, browser (cross-origin) requests refused unless --api-enable-cors, and one
 * summary log line for refused connections and aborted requests instead of a line each.
 */
import type http from 'node:http';
import type { Socket } from 'node:net';
import { log } from '../log';

export interface ConnectionLimits {
  /** Open connections one client address may hold (`--api-max-connections-per-client`). */
  perClient: number;
  /** Open connections in all (`--api-max-connections`). */
  total: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = { perClient: 512, total: 4096 };
const SUMMARY_EVERY_MS = 10_000;

/** Counts what was refused or aborted and logs it at most once per period. */
export class RefusalSummary {
  private counts = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  note(what: string): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + 1);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), SUMMARY_EVERY_MS);
      this.timer.unref?.();
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.counts.size) return;
    const fields: Record<string, number> = Object.fromEntries(this.counts);
    this.counts.clear();
    log.warn(`Refused or aborted client requests in the last ${SUMMARY_EVERY_MS / 1000} s`, fields);
  }
}

/** Caps open connections on `server`: over a cap, a new connection is closed at once (and counted). */
export function limitConnections(server: http.Server, limits: ConnectionLimits, summary: RefusalSummary): void {
  const byClient = new Map<string, number>();
  let open = 0;
  server.on('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? 'unix';
    const mine = byClient.get(client) ?? 0;
    if (open >= limits.total || mine >= limits.perClient) {
      summary.note(open >= limits.total ? 'over --api-max-connections' : 'over --api-max-connections-per-client');
      socket.destroy();
      return;
    }
    open++;
    byClient.set(client, mine + 1);
    socket.once('close', () => {
      open--;
      const n = (byClient.get(client) ?? 1) - 1;
      if (n > 0) byClient.set(client, n);
      else byClient.delete(client);
    });
  });
}

/**
 * A request a browser made for a page of another origin (it carries `Origin`): refused unless CORS is
 * enabled, since the Docker API has no authentication of its own and a page could otherwise start
 * containers. The docker CLI and SDKs never send `Origin`.
 */
export function isRefusedCrossOrigin(req: http.IncomingMessage, cors: boolean | undefined): boolean {
  return !cors && req.headers.origin !== undefined;
}

export const CROSS_ORIGIN_REFUSED = 'cross-origin requests are refused: start the manager with --api-enable-cors to allow browsers';
