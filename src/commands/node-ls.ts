import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';
import { managerFlags } from '../lib/cli/node-flags';

export default class NodeLs extends BaseCommand {
  static override summary = 'List the nodes of a manager with their availability (active or drain).';
  static override description =
    'Asks a running manager (-H) for its nodes: name, address, status, availability (drain: takes no new containers), containers and when the availability was set.';
  static override examples = ['<%= config.bin %> node ls -H tcp://127.0.0.1:3375'];
  static override flags = {
    ...managerFlags,
    quiet: Flags.boolean({ char: 'q', summary: 'Only print the names of drained nodes.' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(NodeLs);
    const { managerTarget, listAvailability, formatAvailabilityTable } = await import('../lib/node-client');
    const nodes = await listAvailability(managerTarget(flags));
    if (flags.quiet) {
      for (const n of nodes) if (n.Availability === 'drain') this.log(n.Name);
      return;
    }
    this.log(formatAvailabilityTable(nodes));
  }
}
