import { Args, Help } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';

export default class HelpCommand extends BaseCommand {
  static override summary = 'Show help for swarm or for one command.';
  static override hiddenAliases = ['h'];
  static override strict = false;
  static override args = { command: Args.string({ description: 'Command to explain', required: false }) };
  static override examples = ['<%= config.bin %> help join'];

  async run(): Promise<void> {
    const { argv } = await this.parse(HelpCommand);
    await new Help(this.config).showHelp(argv as string[]);
  }
}
