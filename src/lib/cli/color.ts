/**
 * The one chalk instance of the CLI and logs: colours only where a person reads them, and never when
 * NO_COLOR is set (no-color.org), which chalk itself does not read.
 */
import { Chalk } from 'chalk';

const noColor = (process.env.NO_COLOR ?? '') !== '';
export const color = noColor ? new Chalk({ level: 0 }) : new Chalk();

/** The colour of an engine state as `docker info` words it (Healthy, Unhealthy, Pending...). */
export function paintState(state: string): string {
  if (state === 'Healthy' || state === 'active' || state === 'answers') return color.green(state);
  if (state === 'Unhealthy' || state === 'unreachable') return color.red(state);
  if (state === 'Pending' || state.startsWith('drain')) return color.yellow(state);
  return state;
}
