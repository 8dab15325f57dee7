/**
 * Leveled logger. Logs go to stderr so stdout stays free for results (tokens, node lists)
 * that scripts consume. (Swarm v1 logged to stdout; we deliberately differ.)
 */
import { color as chalk } from './cli/color';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3, fatal: 4 };
const paint: Record<LogLevel, (s: string) => string> = {
  debug: chalk.gray,
  info: chalk.cyan,
  warn: chalk.yellow,
  error: chalk.red,
  fatal: chalk.bgRed.white,
};

export type LogFields = Record<string, string | number | boolean | undefined>;

let threshold: LogLevel = 'info';
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n');

export function setLogLevel(level: LogLevel): void {
  threshold = level;
}

/** Redirects log output (tests capture lines this way). */
export function setLogSink(write: (line: string) => void): void {
  sink = write;
}

function quote(value: string): string {
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

function formatLogLine(level: LogLevel, msg: string, fields: LogFields = {}, now = new Date()): string {
  const extras = Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${quote(String(v))}`)
    .join(' ');
  const tag = paint[level](level.toUpperCase().padEnd(5));
  return `${now.toISOString()} ${tag} ${msg}${extras ? ' ' + chalk.gray(extras) : ''}`;
}

function emit(level: LogLevel, msg: string, fields?: LogFields): void {
  if (rank[level] < rank[threshold]) return;
  sink(formatLogLine(level, msg, fields));
}

export const log = {
  debug: (msg: string, fields?: LogFields) => emit('debug', msg, fields),
  info: (msg: string, fields?: LogFields) => emit('info', msg, fields),
  warn: (msg: string, fields?: LogFields) => emit('warn', msg, fields),
  error: (msg: string, fields?: LogFields) => emit('error', msg, fields),
  fatal: (msg: string, fields?: LogFields) => emit('fatal', msg, fields),
};
