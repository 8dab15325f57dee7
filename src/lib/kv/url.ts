/**
 * Parsing of store URLs as Swarm v1 wrote them: `etcd://h1:2379,h2:2379/prefix`,
 * `consul://h:8500/prefix`, `zk://h1:2181,h2:2181/prefix` — addresses are the comma list before the
 * first `/`, the rest is a key prefix. `--discovery-opt kv.*` options complete it.
 */
import { readFileSync } from 'node:fs';
import { isHostPortError, parseHostPort } from '../address';
import { errorMessage, UserError } from '../errors';
import { DEFAULT_NODES_PATH, kvKey, type KVBackend, type StoreEndpoint, type StoreTls } from './store';

const STORE_NAMES: Record<KVBackend, { name: string; port: number }> = {
  etcd: { name: 'etcd', port: 2379 },
  consul: { name: 'Consul', port: 8500 },
  zk: { name: 'ZooKeeper', port: 2181 },
};

/** `--discovery-opt` keys that configure TLS to the store; all three or none. */
export const TLS_OPTION_KEYS = ['kv.cacertfile', 'kv.certfile', 'kv.keyfile'] as const;

function example(backend: KVBackend): string {
  const { port } = STORE_NAMES[backend];
  return `${backend}://10.0.0.1:${port},10.0.0.2:${port}/swarm`;
}

/** Parses the part after `scheme://`; throws a one-line UserError naming the problem. */
export function parseStoreUrl(backend: KVBackend, rest: string, options: Record<string, string> = {}): StoreEndpoint {
  const text = rest.trim();
  const slash = text.indexOf('/');
  const hostsPart = slash < 0 ? text : text.slice(0, slash);
  const prefix = kvKey(slash < 0 ? '' : text.slice(slash + 1));
  const { name, port } = STORE_NAMES[backend];
  if (!hostsPart) {
    throw new UserError(`${backend}:// discovery needs the address of at least one ${name} server, e.g. ${example(backend)}`);
  }
  const addrs: string[] = [];
  for (const raw of hostsPart.split(',')) {
    const addr = raw.trim();
    if (!addr) throw new UserError(`empty ${name} address in "${backend}://${text}" (expected host:port[,host:port...], e.g. ${example(backend)})`);
    const parsed = parseHostPort(addr);
    if (isHostPortError(parsed)) {
      const hint = addr.includes(':') ? '' : ` (${name} usually listens on port ${port})`;
      throw new UserError(`invalid ${name} address in "${backend}://${text}": ${parsed.error}${hint}`);
    }
    addrs.push(addr);
  }
  if (/[?#]/.test(prefix)) throw new UserError(`invalid key prefix "${prefix}" in "${backend}://${text}": "?" and "#" are not allowed`);
  const tls = readTlsOptions(backend, options);
  return { backend, addrs, prefix, ...(tls ? { tls } : {}) };
}

/** `kv.path` (default `docker/swarm/nodes`), normalized. */
export function nodesPath(options: Record<string, string>): string {
  const path = kvKey(options['kv.path'] ?? DEFAULT_NODES_PATH);
  if (!path) throw new UserError('--discovery-opt kv.path must not be empty');
  return path;
}

/** Reads the TLS files when all three `kv.*file` options are given (v1: used only then). */
function readTlsOptions(backend: KVBackend, options: Record<string, string>): StoreTls | undefined {
  const given = TLS_OPTION_KEYS.filter((k) => options[k]);
  if (given.length < TLS_OPTION_KEYS.length) return undefined;
  if (backend === 'zk') {
    throw new UserError('zk:// discovery does not support TLS: remove the kv.cacertfile, kv.certfile and kv.keyfile options');
  }
  const read = (opt: (typeof TLS_OPTION_KEYS)[number]) => {
    const path = options[opt]!;
    try {
      return readFileSync(path);
    } catch (err) {
      throw new UserError(`cannot read --discovery-opt ${opt}=${path}: ${errorMessage(err)}`);
    }
  };
  return { ca: read('kv.cacertfile'), cert: read('kv.certfile'), key: read('kv.keyfile') };
}

export function describeEndpoint(endpoint: StoreEndpoint): string {
  return `${STORE_NAMES[endpoint.backend].name} at ${endpoint.addrs.join(',')}${endpoint.prefix ? ` (prefix ${endpoint.prefix})` : ''}${endpoint.tls ? ' with TLS' : ''}`;
}
