/**
 * HTTP front of the token discovery service (the protocol of Swarm v1's hosted service):
 *   POST   /v1/clusters                    → new 32-hex token
 *   POST   /v1/clusters/<token>?ttl=<s>    body host:port → register/refresh
 *   GET    /v1/clusters/<token>            → JSON array of live entries
 *   DELETE /v1/clusters/<token>            → forget the cluster
 * Bad requests get a 4xx with a one-line text message; the server never crashes on input.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isHostPortError, parseHostPort } from '../address';
import { ApiError, errorMessage, errorStatus } from '../errors';
import { log } from '../log';
import type { TokenStore } from './store';

const DEFAULT_ENTRY_TTL_SECONDS = 180;
const MAX_TTL_SECONDS = 7 * 24 * 3600;
const MAX_BODY_BYTES = 4096;

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...(status === 413 ? { connection: 'close' } : {}) });
  res.end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is drained, not buffered; the 413 then closes the connection.
      if (size > MAX_BODY_BYTES) reject(new ApiError(413, `request body larger than ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseTtl(value: string | null): number {
  if (value === null || value === '') return DEFAULT_ENTRY_TTL_SECONDS;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_TTL_SECONDS) {
    throw new ApiError(400, `invalid ttl "${value}": expected whole seconds between 1 and ${MAX_TTL_SECONDS}`);
  }
  return Number(value);
}

async function route(store: TokenStore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://token-server');
  } catch {
    throw new ApiError(400, `malformed request target ${JSON.stringify(req.url ?? '')}`);
  }
  // Exact paths: `/v1/clusters/` names no cluster and must not create one.
  const path = url.pathname;
  const method = req.method ?? 'GET';

  if (path === '/v1/clusters') {
    if (method !== 'POST') throw new ApiError(405, `method ${method} not allowed on /v1/clusters (use POST)`);
    const token = await store.createCluster();
    log.info('Cluster created', { token });
    return send(res, 200, token);
  }
  const m = /^\/v1\/clusters\/([^/]+)$/.exec(path);
  if (!m) throw new ApiError(404, `no such route: ${method} ${url.pathname}`);
  let token: string;
  try {
    token = decodeURIComponent(m[1]!);
  } catch {
    throw new ApiError(400, `malformed escape in path ${url.pathname}`);
  }

  switch (method) {
    case 'GET': {
      const entries = store.entries(token);
      if (!entries) throw new ApiError(404, `unknown cluster token ${token}`);
      return send(res, 200, JSON.stringify(entries), 'application/json');
    }
    case 'POST': {
      const ttl = parseTtl(url.searchParams.get('ttl'));
      const entry = (await readBody(req)).trim().replace(/^"(.*)"$/, '$1');
      const parsed = parseHostPort(entry);
      if (isHostPortError(parsed)) throw new ApiError(400, `invalid entry: ${parsed.error}`);
      if (!(await store.register(token, entry, ttl * 1000))) throw new ApiError(404, `unknown cluster token ${token}`);
      log.debug('Entry registered', { token, entry, ttl });
      return send(res, 200, 'OK');
    }
    case 'DELETE': {
      if (!(await store.deleteCluster(token))) throw new ApiError(404, `unknown cluster token ${token}`);
      log.info('Cluster deleted', { token });
      return send(res, 200, 'OK');
    }
    default:
      throw new ApiError(405, `method ${method} not allowed on /v1/clusters/<token>`);
  }
}

export function createTokenServer(store: TokenStore): Server {
  return createServer((req, res) => {
    route(store, req, res).catch((err: unknown) => {
      const status = errorStatus(err);
      if (status >= 500) log.error('Request failed', { method: req.method, url: req.url, error: errorMessage(err) });
      if (!res.headersSent) send(res, status, errorMessage(err) + '\n');
      else res.destroy();
    });
  });
}
