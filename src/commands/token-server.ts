import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';
import { abortOnSignals } from '../lib/cli/signals';
import { DEFAULT_TOKEN_SERVER_HOST, defaultDataFile, runTokenServer } from '../lib/token-server/run';

export default class TokenServer extends BaseCommand {
  static override summary = 'Run a self-hosted token discovery service for token:// clusters.';
  static override description = `Serves the token discovery protocol of Swarm v1's hosted service (shut down in 2019):
  POST   /v1/clusters                 create a cluster, answers a token
  POST   /v1/clusters/<token>?ttl=<s> register an entry (body ip:port)
  GET    /v1/clusters/<token>         JSON array of live entries
  DELETE /v1/clusters/<token>         delete the cluster

Entries expire after their TTL; a cluster with no live entry for --cluster-ttl is forgotten. State is kept in a data file and a journal beside it (<data file>.journal), so clusters and entries survive a restart and kill -9. Clients use --discovery-url http://<host>:<port>/v1 or SWARM_DISCOVERY_URL.`;
  static override examples = [
    '<%= config.bin %> token-server',
    '<%= config.bin %> token-server -H tcp://0.0.0.0:8600 --data-file /var/lib/swarm/tokens.json',
  ];
  static override flags = {
    host: Flags.string({
      char: 'H',
      summary: `Address to listen on, [tcp://]host:port or unix:///path (repeatable; default ${DEFAULT_TOKEN_SERVER_HOST}).`,
      multiple: true,
    }),
    'data-file': Flags.string({
      summary: 'File that keeps clusters and entries across restarts (default $XDG_STATE_HOME/swarm/token-server.json).',
    }),
    memory: Flags.boolean({ summary: 'Keep state in memory only (lost on restart).', exclusive: ['data-file'] }),
    'cluster-ttl': Flags.string({
      summary: 'Forget a cluster that has had no live entry for this long (Go duration; 0 keeps clusters forever).',
      default: '720h',
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(TokenServer);
    await runTokenServer(
      { hosts: flags.host ?? [DEFAULT_TOKEN_SERVER_HOST], dataFile: flags['data-file'] ?? defaultDataFile(), memory: flags.memory, clusterTtl: flags['cluster-ttl'] },
      abortOnSignals(),
    );
  }
}
