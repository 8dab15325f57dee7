/** Listen addresses as `-H` takes them: `tcp://host:port`, `host:port`, `:port`, `unix:///path`. */
import { connect, type Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { UserError, errorMessage } from './errors';

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseListenAddress(text: string): ListenAddress {
  const t = text.trim();
  const i = t.indexOf('://');
  const scheme = i < 0 ? 'tcp' : t.slice(0, i).toLowerCase();
  const rest = i < 0 ? t : t.slice(i + 3);
  if (scheme === 'unix') {
    if (!rest) throw new UserError(`invalid listen address "${text}": unix:// needs a socket path`, 2);
    return { kind: 'unix', path: rest };
  }
  if (scheme !== 'tcp') throw new UserError(`unsupported protocol: "${scheme}" (listen address "${text}"; use tcp:// or unix://)`, 2);
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(rest);
  if (!m) throw new UserError(`invalid listen address "${text}": expected [tcp://]host:port, :port or unix:///path`, 2);
  const port = Number(m[2]);
  if (port < 0 || port > 65535) throw new UserError(`invalid listen address "${text}": port must be between 0 and 65535`, 2);
  const host = m[1]!.replace(/^\[|\]$/g, '') || '0.0.0.0';
  return { kind: 'tcp', host, port };
}

export function formatListenAddress(a: ListenAddress): string {
  return a.kind === 'unix' ? `unix://${a.path}` : `tcp://${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Whether something accepts connections on the unix socket at `path`. */
function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(true); // a socket that neither accepts nor refuses is someone's
    }, 1000);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.once('error', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * A unix socket path may be reused only if it holds a stale socket (nothing listening): a regular
 * file, a directory or a live socket there is never removed.
 */
async function clearStaleSocket(addr: Extract<ListenAddress, { kind: 'unix' }>): Promise<void> {
  const st = await lstat(addr.path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new UserError(`cannot listen on ${formatListenAddress(addr)}: ${errorMessage(err)}`);
  });
  if (!st) return;
  if (!st.isSocket()) throw new UserError(`cannot listen on ${formatListenAddress(addr)}: ${addr.path} exists and is not a socket; remove it or choose another path`);
  if (await socketAnswers(addr.path)) throw new UserError(`cannot listen on ${formatListenAddress(addr)}: address already in use`);
  await unlink(addr.path);
}

/** Starts `server` on `addr`, with an error message that says what to do when it cannot. */
export async function listenOn(server: HttpServer | Server, addr: ListenAddress, hint = ''): Promise<void> {
  if (addr.kind === 'unix') await clearStaleSocket(addr);
  // The socket is created 0600 (umask while it is bound), not made so afterwards: no moment when others can connect.
  const umask = addr.kind === 'unix' ? process.umask(0o177) : undefined;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? `address already in use${hint}` : errorMessage(err);
      reject(new UserError(`cannot listen on ${formatListenAddress(addr)}: ${why}`));
    };
    server.once('error', onError);
    const done = () => {
      server.off('error', onError);
      resolve();
    };
    if (addr.kind === 'unix') server.listen(addr.path, done);
    else server.listen(addr.port, addr.host, done);
  }).finally(() => {
    if (umask !== undefined) process.umask(umask);
  });
  if (addr.kind === 'unix') await chmod(addr.path, 0o600);
}
