/**
 * `token://<token>`: the token discovery protocol (Swarm v1's hosted service, now self-hosted with
 * `swarm token-server`). The service base URL comes from `--discovery-url` / `SWARM_DISCOVERY_URL`;
 * the v1 form `token://host[:port]/path/<token>` names it inline.
 */
import { call, TransportError, urlTarget } from '../engine/http';
import { UserError, errorMessage } from '../errors';
import { parseEntries } from './entries';
import { pollEntries } from './poll';
import type { Discovery, DiscoveryFactory } from './types';

export const DEFAULT_TOKEN_SERVICE_URL = 'http://127.0.0.1:8600/v1';
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;
const REQUEST_TIMEOUT_MS = 10_000;

export interface TokenLocation {
  /** Base URL of the service, e.g. `http://127.0.0.1:8600/v1`. */
  base: string;
  token: string;
}

/**
 * `token://abc` → default/configured base; `token://host:port/v1/abc` → `http://host:port/v1`.
 * Without a port the inline form means https, as v1's hosted service did.
 */
export function parseTokenLocation(rest: string, configuredBase?: string): TokenLocation {
  const slash = rest.lastIndexOf('/');
  const token = rest.slice(slash + 1);
  if (!TOKEN.test(token)) {
    throw new UserError(`invalid cluster token "${token}" in token://${rest} (expected letters, digits, - or _)`);
  }
  if (slash < 0) return { base: normalizeBase(configuredBase ?? DEFAULT_TOKEN_SERVICE_URL), token };
  const where = rest.slice(0, slash);
  const host = where.split('/')[0]!;
  const scheme = /:\d+$/.test(host) && !host.endsWith(':443') ? 'http' : 'https';
  return { base: normalizeBase(`${scheme}://${where}`), token };
}

export function normalizeBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UserError(`invalid discovery service URL "${url}" (expected e.g. ${DEFAULT_TOKEN_SERVICE_URL})`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UserError(`invalid discovery service URL "${url}": only http:// and https:// are supported`);
  }
  return url.replace(/\/+$/, '');
}

/** One HTTP exchange with the service, with errors a user can act on. */
export async function tokenRequest(base: string, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  const { target, prefix } = urlTarget(base);
  try {
    const headers: Record<string, string> = body === undefined ? {} : { 'Content-Type': 'application/json' };
    const r = await call(target, method, `${prefix}${path}`, { raw: body ?? '', headers, timeoutMs: REQUEST_TIMEOUT_MS });
    return { status: r.status, text: r.body.toString() };
  } catch (err) {
    throw new UserError(`cannot reach the token discovery service at ${base}: ${describeFailure(err)} (start one with "swarm token-server", or set --discovery-url / SWARM_DISCOVERY_URL)`);
  }
}

function describeFailure(err: unknown): string {
  if (!(err instanceof TransportError)) return errorMessage(err);
  if (err.kind === 'timeout') return `no answer within ${REQUEST_TIMEOUT_MS / 1000}s`;
  if (err.code === 'ECONNREFUSED' || err.code === 'ConnectionRefused') return 'connection refused';
  return err.code ?? err.message;
}

function serviceError(what: string, status: number, text: string): UserError {
  const detail = text.trim().split('\n')[0];
  return new UserError(`${what}, Discovery service returned ${status} HTTP status code${detail ? `: ${detail}` : ''}`);
}

/** `swarm create`: asks the service for a new cluster token. */
export async function createClusterToken(base: string): Promise<string> {
  const { status, text } = await tokenRequest(normalizeBase(base), 'POST', '/clusters');
  if (status < 200 || status > 299) throw serviceError('Failed to create a cluster token', status, text);
  const token = text.trim();
  if (!TOKEN.test(token)) throw new UserError(`the discovery service answered with an invalid token: ${JSON.stringify(token.slice(0, 80))}`);
  return token;
}

export async function fetchTokenEntries({ base, token }: TokenLocation): Promise<string[]> {
  const { status, text } = await tokenRequest(base, 'GET', `/clusters/${token}`);
  if (status !== 200) throw serviceError('Failed to fetch entries', status, text);
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new UserError('Failed to fetch entries: the discovery service answered with invalid JSON');
  }
  if (list === null) return [];
  if (!Array.isArray(list) || !list.every((e) => typeof e === 'string')) {
    throw new UserError('Failed to fetch entries: the discovery service did not answer with a list of host:port');
  }
  return parseEntries(list);
}

export const createTokenDiscovery: DiscoveryFactory = (rest, config) => {
  const location = parseTokenLocation(rest, config.tokenServiceUrl);
  const ttlSeconds = Math.max(1, Math.round(config.ttlMs / 1000));
  const discovery: Discovery = {
    scheme: 'token',
    description: `token ${location.token} at ${location.base}`,
    canRegister: true,
    watch: (signal) => pollEntries(() => fetchTokenEntries(location), config.heartbeatMs, signal),
    async register(addr) {
      const { status, text } = await tokenRequest(location.base, 'POST', `/clusters/${location.token}?ttl=${ttlSeconds}`, addr);
      if (status < 200 || status > 299) throw serviceError(`Failed to register ${addr}`, status, text);
    },
  };
  return discovery;
};
