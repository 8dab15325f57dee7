/** Flags, arguments and help text shared by the discovery-using commands. */
import { Args, Flags } from '@oclif/core';
import { UserError } from '../errors';

export const DISCOVERY_HELP = `Discovery URL forms (or set SWARM_DISCOVERY):
  token://<token>                  token service at --discovery-url
  token://<host>:<port>/v1/<token> token service named inline (v1 form)
  nodes://<ip>:<port>,<ip>:<port>  static list ("nodes://" may be left out)
  nodes://10.0.0.[10:20]:2375      ranges: 10.0.0.10 to 10.0.0.20
  file:///path/to/file             one host:port a line, # comments
  etcd://<ip>:2379,<ip>:2379/<prefix>   etcd v3 (TTL = lease)
  consul://<ip>:8500/<prefix>      Consul KV (TTL = session)
  zk://<ip>:2181,<ip>:2181/<prefix>     ZooKeeper (ephemeral nodes)
KV stores keep nodes under <prefix>/docker/swarm/nodes (--discovery-opt kv.path=...);
TLS to etcd/Consul: --discovery-opt kv.cacertfile=,kv.certfile=,kv.keyfile=`;

export const discoveryArg = Args.string({
  name: 'discovery',
  description: 'Discovery URL (see below); defaults to $SWARM_DISCOVERY',
  required: false,
});

export const discoveryFlags = {
  'discovery-opt': Flags.string({
    summary: 'Discovery option key=value (repeatable), e.g. kv.path=docker/swarm/nodes.',
    multiple: true,
    multipleNonGreedy: true,
  }),
  'discovery-url': Flags.string({
    summary: 'Base URL of the token discovery service, e.g. http://127.0.0.1:8600/v1.',
    env: 'SWARM_DISCOVERY_URL',
  }),
};

/** The positional discovery URL, or $SWARM_DISCOVERY, or a v1-style error. */
export function resolveDiscoveryUrl(arg: string | undefined, verb: string, command: string): string {
  const url = arg ?? process.env.SWARM_DISCOVERY;
  if (!url) throw new UserError(`discovery required to ${verb}. See 'swarm ${command} --help'.`, 2);
  return url;
}

export function parseDiscoveryOpts(pairs: readonly string[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new UserError('--discovery-opt must contain key=value strings', 2);
    out[pair.slice(0, i)] = pair.slice(i + 1);
  }
  return out;
}
