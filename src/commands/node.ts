import { Help } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';

/** `swarm node`: the topic's own entry (its summary is the topic's line in `swarm --help`); prints the topic help. */
export default class Node extends BaseCommand {
  static override summary = 'Node availability on a running manager: ls, drain (maintenance: nothing new lands there), activate.';
  static override examples = ['<%= config.bin %> node ls -H tcp://127.0.0.1:3375', '<%= config.bin %> node drain node-2 -H tcp://127.0.0.1:3375'];

  async run(): Promise<void> {
    await this.parse(Node);
    await new Help(this.config).showHelp(['node']);
  }
}
