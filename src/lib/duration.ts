/**
 * Durations in Go's syntax (`30s`, `1m30s`, `1.5h`, `250ms`), as Swarm v1's flags take them.
 * parse-duration does the arithmetic; the regular expression keeps out what Go would refuse
 * (a bare `60`, spaces, unknown units) so that `--heartbeat 60` is an error rather than 60 ms.
 */
import parse from 'parse-duration';
import { UserError } from './errors';

const GO_DURATION = /^[-+]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/;

/**
 * The longest delay a timer can wait (2^31 - 1 ms, about 596 h): longer ones fire after 1 ms, so a
 * flag that becomes a timer is refused beyond it rather than turned into a busy loop.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Milliseconds in `text`, or a UserError worded as v1's (`invalid --heartbeat: time: ...`). Durations
 * longer than `maxMs` (by default what a timer can wait) are refused.
 */
export function parseDuration(text: string, flag = 'duration', maxMs = MAX_TIMER_MS): number {
  const trimmed = text.trim();
  if (/^[-+]?0$/.test(trimmed)) return 0;
  const ms = GO_DURATION.test(trimmed) ? parse(trimmed.replace(/μs|µs/g, 'us')) : null;
  if (ms === null || ms === undefined || !Number.isFinite(ms)) {
    throw new UserError(`invalid ${flag}: ${goDurationError(text)}; expected a duration such as 500ms, 30s, 1m30s or 2h`, 2);
  }
  if (ms > maxMs) throw new UserError(`invalid ${flag}: ${trimmed} is too long (at most ${formatDuration(maxMs)})`, 2);
  return ms;
}

const GO_UNITS = new Set(['ns', 'us', 'µs', 'μs', 'ms', 's', 'm', 'h']);

/** Why Go's time.ParseDuration refuses `orig`, in its words (Go 1.7, which built v1 1.2.9). */
function goDurationError(orig: string): string {
  const invalid = `time: invalid duration ${orig}`;
  let s = /^[-+]/.test(orig) ? orig.slice(1) : orig;
  if (s === '') return invalid;
  while (s !== '') {
    const num = /^(\d*)(\.\d*)?/.exec(s)!;
    if (!num[1] && (!num[2] || num[2] === '.')) return invalid;
    s = s.slice(num[0].length);
    const unit = /^[^\d.]*/.exec(s)![0];
    if (!unit) return `time: missing unit in duration ${orig}`;
    if (!GO_UNITS.has(unit)) return `time: unknown unit ${unit} in duration ${orig}`;
    s = s.slice(unit.length);
  }
  return invalid;
}

/** Renders milliseconds the way Go prints a time.Duration (e.g. `1m30s`, `500ms`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (Math.abs(ms) < 1000) return `${ms}ms`;
  let rest = ms / 1000;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  rest -= m * 60;
  const s = Number(rest.toFixed(3));
  return `${h ? h + 'h' : ''}${h || m ? m + 'm' : ''}${s}s`;
}
