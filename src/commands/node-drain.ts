import { BaseCommand } from '../lib/cli/base';
import { managerFlags, nodeArg } from '../lib/cli/node-flags';

export default class NodeDrain extends BaseCommand {
  static override summary = 'Put a node in maintenance: nothing new is scheduled on it, its containers keep running.';
  static override description = `Tells the manager (-H) to stop placing containers on the node (creates, builds, rescheduling). Containers already there are not touched; stop or move them yourself. docker info then shows \`└ Availability: drain\` under the node. The drain survives a manager restart only if the manager runs with --cluster-opt swarm.drain.state-file=<path> (a warning says so otherwise); an engine started with --label com.docker.swarm.drain=true is drained from the start.`;
  static override examples = ['<%= config.bin %> node drain node-2 -H tcp://127.0.0.1:3375'];
  static override args = { node: nodeArg };
  static override flags = { ...managerFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(NodeDrain);
    const { managerTarget, setNodeAvailability, describeChange } = await import('../lib/node-client');
    const change = await setNodeAvailability(managerTarget(flags), args.node, 'drain');
    const { out, warning } = describeChange(change);
    this.log(out);
    if (warning) process.stderr.write(`Warning: ${warning}\n`);
  }
}
