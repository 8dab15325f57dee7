/**
 * Every command, imported statically: inside the compiled binary oclif cannot discover commands on
 * disk, so it uses this map (the "explicit" command strategy in package.json).
 */
import Create from './commands/create';
import HelpCommand from './commands/help';
import Join from './commands/join';
import List from './commands/list';
import Manage from './commands/manage';
import Node from './commands/node';
import NodeActivate from './commands/node-activate';
import NodeDrain from './commands/node-drain';
import NodeLs from './commands/node-ls';
import TokenServer from './commands/token-server';

export const COMMANDS = {
  create: Create,
  help: HelpCommand,
  join: Join,
  list: List,
  manage: Manage,
  node: Node,
  'node:activate': NodeActivate,
  'node:drain': NodeDrain,
  'node:ls': NodeLs,
  'token-server': TokenServer,
};
