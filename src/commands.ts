/**
 * Every command, imported statically: inside the compiled binary oclif cannot discover commands on
 * disk, so it uses this map (the "explicit" command strategy in package.json).
 */
import Create from './commands/create';
import HelpCommand from './commands/help';
import Join from './commands/join';
import List from './commands/list';
import Manage from './commands/manage';
import TokenServer from './commands/token-server';

export const COMMANDS = {
  create: Create,
  help: HelpCommand,
  join: Join,
  list: List,
  manage: Manage,
  'token-server': TokenServer,
};
