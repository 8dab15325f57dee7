import { BaseCommand } from '../lib/cli/base';
import { managerFlags, nodeArg } from '../lib/cli/node-flags';

export default class NodeActivate extends BaseCommand {
  static override summary = 'Take a node out of maintenance: it accepts new containers again.';
  static override description = `Tells the manager (-H) to schedule on the node again, undoing swarm node drain (or the engine label com.docker.swarm.drain=true, until the manager forgets it on restart without a state file).`;
  static override examples = ['<%= config.bin %> node activate node-2 -H tcp://127.0.0.1:3375'];
  static override args = { node: nodeArg };
  static override flags = { ...managerFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(NodeActivate);
    const { managerTarget, setNodeAvailability, describeChange } = await import('../lib/node-client');
    const change = await setNodeAvailability(managerTarget(flags), args.node, 'activate');
    const { out, warning } = describeChange(change);
    this.log(out);
    if (warning) process.stderr.write(`Warning: ${warning}\n`);
  }
}
