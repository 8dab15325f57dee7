/** The strategy registry: `spread` (default), `binpack` (alias `binpacking`), `random`. */
import { binpackStrategy } from './binpack';
import { randomStrategy } from './random';
import { spreadStrategy } from './spread';
import type { Strategy } from './strategy';

export type { RankResult, Strategy } from './strategy';
export { weighNodes } from './strategy';
export { binpackStrategy } from './binpack';
export { randomStrategy } from './random';
export { spreadStrategy } from './spread';

const DEFAULT_STRATEGY = 'spread';

/** v1's error for an unknown `--strategy`. */
export const STRATEGY_NOT_SUPPORTED = 'strategy not supported';

const STRATEGIES: ReadonlyMap<string, Strategy> = new Map([
  ['spread', spreadStrategy],
  ['binpack', binpackStrategy],
  ['binpacking', binpackStrategy],
  ['random', randomStrategy],
]);

/** The strategy named; an unknown name throws "strategy not supported". */
export function getStrategy(name: string = DEFAULT_STRATEGY): Strategy {
  const strategy = STRATEGIES.get(name);
  if (!strategy) throw new Error(STRATEGY_NOT_SUPPORTED);
  return strategy;
}

/** Names `--strategy` accepts. */
export function strategyNames(): string[] {
  return [...STRATEGIES.keys()];
}
