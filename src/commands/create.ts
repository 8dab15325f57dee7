import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';
import { UserError } from '../lib/errors';
import { createClusterToken, DEFAULT_TOKEN_SERVICE_URL } from '../lib/discovery/token';

export default class Create extends BaseCommand {
  static override summary = 'Create a cluster token on a token discovery service and print it.';
  static override description = `Asks the token discovery service for a new cluster and prints its token on stdout, so that TOKEN=$(swarm create) works in scripts. Engines then join with "swarm join --advertise <ip:port> token://$TOKEN".

The service is the one "swarm token-server" runs (the hosted Docker Hub service was shut down in 2019); point at it with --discovery-url or SWARM_DISCOVERY_URL (default ${DEFAULT_TOKEN_SERVICE_URL}).`;
  static override hiddenAliases = ['c'];
  // Arguments are refused with v1's own message rather than oclif's.
  static override strict = false;
  static override examples = ['<%= config.bin %> create', '<%= config.bin %> create --discovery-url http://10.0.0.5:8600/v1'];
  static override flags = {
    'discovery-url': Flags.string({
      summary: 'Base URL of the token discovery service.',
      env: 'SWARM_DISCOVERY_URL',
      default: DEFAULT_TOKEN_SERVICE_URL,
    }),
  };

  async run(): Promise<void> {
    const { flags, argv } = await this.parse(Create);
    if (argv.length) throw new UserError("the `create` command takes no arguments. See 'swarm create --help'.", 2);
    this.log(await createClusterToken(flags['discovery-url']));
  }
}
