import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';
import { discoveryArg, discoveryFlags, DISCOVERY_HELP, parseDiscoveryOpts, resolveDiscoveryUrl } from '../lib/cli/flags';
import { formatNodeTable, listNodes, probeNodes } from '../lib/list';

export default class List extends BaseCommand {
  static override summary = 'Print the nodes of a cluster: one host:port a line, or a table on a terminal.';
  static override description = `Reads the discovery backend once and prints each registered engine address on its own line (sorted), ready for scripts. Fails if the backend does not answer within --timeout.

${DISCOVERY_HELP}`;
  static override hiddenAliases = ['l'];
  static override examples = ['<%= config.bin %> list token://$TOKEN', '<%= config.bin %> list nodes://10.0.0.[10:12]:2375'];
  static override args = { discovery: discoveryArg };
  static override flags = {
    timeout: Flags.string({ summary: 'How long to wait for the discovery backend (Go duration).', default: '10s' }),
    format: Flags.string({
      summary: 'plain: one host:port a line (the default when stdout is not a terminal); table: each node with its name, whether its engine answers and its version (the default on a terminal).',
      options: ['plain', 'table'],
    }),
    ...discoveryFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(List);
    const nodes = await listNodes(resolveDiscoveryUrl(args.discovery, 'list a cluster', 'list'), flags.timeout, {
      options: parseDiscoveryOpts(flags['discovery-opt']),
      tokenServiceUrl: flags['discovery-url'],
    });
    const format = flags.format ?? (process.stdout.isTTY ? 'table' : 'plain');
    if (format === 'plain') for (const node of nodes) this.log(node);
    else if (nodes.length) this.log(formatNodeTable(await probeNodes(nodes)));
  }
}
