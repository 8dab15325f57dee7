/** `nodes://a:2375,b:2375` (or a bare list): a fixed set of engines, ranges allowed. */
import { UserError } from '../errors';
import { parseEntries } from './entries';
import type { Discovery, DiscoveryFactory } from './types';

export const createNodesDiscovery: DiscoveryFactory = (rest) => {
  const entries = parseEntries(rest.split(','));
  if (entries.length === 0) throw new UserError('nodes discovery needs at least one host:port');
  const discovery: Discovery = {
    scheme: 'nodes',
    description: `static list of ${entries.length} node(s)`,
    canRegister: false,
    async *watch() {
      yield { kind: 'entries', entries };
    },
    async register() {
      throw new UserError('nodes:// discovery is a static list: engines need no join, list them in the URL instead');
    },
  };
  return discovery;
};
