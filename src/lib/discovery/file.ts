/**
 * `file:///path`: one `host:port` per line; blank lines and `#` comments (whole-line or trailing)
 * skipped; ranges allowed. Re-read every heartbeat so edits take effect without a restart.
 */
import { readFile, stat } from 'node:fs/promises';
import { UserError, errorMessage } from '../errors';
import { parseEntries } from './entries';
import { pollEntries } from './poll';
import type { Discovery, DiscoveryFactory } from './types';

export function parseFileContent(text: string): string[] {
  return parseEntries(text.split(/\r?\n/).map((line) => line.replace(/#.*/, '')));
}

export const createFileDiscovery: DiscoveryFactory = (rest, config) => {
  const path = rest;
  if (!path) throw new UserError('file discovery needs a path: file:///path/to/cluster-file');
  const read = async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new UserError(`cannot read discovery file ${path}: ${errorMessage(err)}`);
    }
    return parseFileContent(text);
  };
  const discovery: Discovery = {
    scheme: 'file',
    description: `file ${path}`,
    canRegister: false,
    watch: (signal) => pollEntries(read, config.heartbeatMs, signal),
    async preflight() {
      const st = await stat(path).catch((err: unknown) => {
        throw new UserError(`cannot read discovery file ${path}: ${errorMessage(err)}`);
      });
      if (!st.isFile()) throw new UserError(`discovery file ${path} is not a regular file`);
    },
    async register() {
      throw new UserError('file:// discovery needs no join: add the engine\'s host:port to the file instead');
    },
  };
  return discovery;
};
