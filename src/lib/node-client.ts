/**
 * Client side of `swarm node ls|drain|activate`: calls a manager's `/_swarm/nodes` routes
 * (src/lib/api/nodes.ts) over tcp, TLS or a unix socket, and renders the answers for people.
 */
import { readFileSync } from 'node:fs';
import type { AvailabilityChange, NodeAvailability } from './api/nodes';
import { NODES_PATH } from './api/nodes';
import { UserError, errorMessage } from './errors';
import { parseListenAddress, type ListenAddress } from './listen';
import { call, listenTarget, type EngineTarget } from './engine/http';
import type { ClientTls } from './tls';
import { paintState } from './cli/color';
import { formatTable } from './cli/table';

export interface ManagerTarget {
  /** As given (for messages). */
  text: string;
  addr: ListenAddress;
  tls?: ClientTls;
}

export interface ClientFlags {
  host?: string;
  tls: boolean;
  tlsverify: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
}

function readPem(path: string | undefined, what: string): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UserError(`cannot read ${what} ${path}: ${errorMessage(err)}`);
  }
}

/** -H (else $DOCKER_HOST, else tcp://127.0.0.1:2375) and the TLS flags, checked. */
export function managerTarget(flags: ClientFlags): ManagerTarget {
  const text = flags.host || process.env.DOCKER_HOST || 'tcp://127.0.0.1:2375';
  const parsed = parseListenAddress(text);
  const addr: ListenAddress = parsed.kind === 'tcp' && parsed.host === '0.0.0.0' ? { ...parsed, host: '127.0.0.1' } : parsed;
  if ((flags.tlscert && !flags.tlskey) || (!flags.tlscert && flags.tlskey)) throw new UserError('--tlscert and --tlskey go together', 2);
  if (flags.tlsverify && !flags.tlscacert) throw new UserError('--tlscacert must be provided when using --tlsverify', 2);
  if (!flags.tls && !flags.tlsverify) {
    if (flags.tlscert || flags.tlscacert) throw new UserError('--tlscert, --tlskey and --tlscacert require the use of either --tls or --tlsverify', 2);
    return { text, addr };
  }
  return {
    text,
    addr,
    tls: {
      verify: flags.tlsverify,
      ca: readPem(flags.tlscacert, 'CA certificate'),
      cert: readPem(flags.tlscert, 'certificate'),
      key: readPem(flags.tlskey, 'key'),
    },
  };
}

interface Reply {
  status: number;
  body: string;
}

/** A manager's `/_swarm` routes answer at once: 20 s covers a loaded one. */
const MANAGER_TIMEOUT_MS = 20_000;

async function request(target: ManagerTarget, method: string, path: string): Promise<Reply> {
  const to: EngineTarget = listenTarget(target.addr, target.tls);
  const r = await call(to, method, path, { raw: '', timeoutMs: MANAGER_TIMEOUT_MS });
  return { status: r.status, body: r.body.toString() };
}

async function callManager<T>(target: ManagerTarget, method: string, path: string): Promise<T> {
  let reply: Reply;
  try {
    reply = await request(target, method, path);
  } catch (err) {
    throw new UserError(`cannot reach the manager at ${target.text}: ${errorMessage(err)}`);
  }
  let parsed: unknown;
  try {
    parsed = reply.body ? JSON.parse(reply.body) : undefined;
  } catch {
    parsed = undefined;
  }
  if (reply.status === 404 && path === NODES_PATH) {
    throw new UserError(`${target.text} does not serve ${NODES_PATH}: is it a swarm manager of this version?`);
  }
  if (reply.status < 200 || reply.status >= 300) {
    const message = (parsed as { message?: unknown } | undefined)?.message;
    throw new UserError(typeof message === 'string' ? message : `manager answered HTTP ${reply.status}: ${reply.body.trim()}`);
  }
  return parsed as T;
}

export function listAvailability(target: ManagerTarget): Promise<NodeAvailability[]> {
  return callManager<NodeAvailability[]>(target, 'GET', NODES_PATH);
}

export function setNodeAvailability(target: ManagerTarget, node: string, action: 'drain' | 'activate'): Promise<AvailabilityChange> {
  return callManager<AvailabilityChange>(target, 'POST', `${NODES_PATH}/${encodeURIComponent(node)}/${action}`);
}

/** `docker node ls`-like table. */
export function formatAvailabilityTable(nodes: readonly NodeAvailability[]): string {
  const rows = [
    ['NAME', 'ADDRESS', 'STATUS', 'AVAILABILITY', 'CONTAINERS', 'SINCE'],
    ...nodes.map((n) => [
      n.Name,
      n.Addr,
      n.Status,
      n.Availability + (n.Source === 'label' ? ' (engine label)' : ''),
      `${n.Containers} (${n.Running} running)`,
      n.Since || '-',
    ]),
  ];
  // Status and availability coloured (Healthy green, Unhealthy red, Pending and drain yellow).
  return formatTable(rows, (column, cell) => (column === 2 || column === 3 ? paintState(cell) : cell));
}

/** What `swarm node drain|activate` prints: the outcome on stdout, a warning when it is not persisted. */
export function describeChange(change: AvailabilityChange): { out: string; warning?: string } {
  const out =
    change.Availability === 'drain'
      ? `${change.Name} drained: no new containers will be scheduled there; its ${change.Running} running container(s) keep running`
      : `${change.Name} active: it takes new containers again`;
  const warning = change.Persisted
    ? undefined
    : 'not persisted: this manager has no --cluster-opt swarm.drain.state-file, so the setting ends when it restarts ' +
      '(for a permanent drain, start the engine with --label com.docker.swarm.drain=true)';
  if (change.Availability === 'active' && change.Source === 'label') {
    return { out: `${out} (overriding its engine label com.docker.swarm.drain)`, warning };
  }
  return { out, warning };
}
