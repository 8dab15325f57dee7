/**
 * What every command shares: the global flags (`-l/--log-level`, `--debug`, `--experimental`) and the
 * error policy (one clear line on stderr, non-zero exit, never a stack trace). v1 took the global flags
 * before the command; bin/swarm.ts moves them after it (src/lib/cli/argv.ts), so both places work.
 */
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import { color as chalk } from './color';
import { errorMessage, UserError } from '../errors';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../log';

/** v1's levels (logrus); `panic` logs like `fatal` here, there being nothing above it. */
const CLI_LOG_LEVELS = [...LOG_LEVELS, 'panic'] as const;
type CliLogLevel = (typeof CLI_LOG_LEVELS)[number];

const EXPERIMENTAL_HELP = 'Report Experimental: true in the manager\'s /version and /info (all v1 1.2.9 did with it); enables nothing else.';

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    'log-level': Flags.option({
      char: 'l',
      options: CLI_LOG_LEVELS,
      summary: 'Log level: debug, info, warn, error, fatal or panic (default info). Logs go to stderr.',
      helpGroup: 'GLOBAL',
    })(),
    debug: Flags.boolean({
      summary: 'Debug mode: sets the log level to debug unless --log-level is given.',
      env: 'DEBUG',
      helpGroup: 'GLOBAL',
    }),
    experimental: Flags.boolean({ summary: EXPERIMENTAL_HELP, helpGroup: 'GLOBAL' }),
  };

  /** Every command parses its flags through here, so the global flags take effect before it runs. */
  protected override async parse<F extends Record<string, unknown>, B extends Record<string, unknown>, A extends Record<string, unknown>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv);
    const global = parsed.flags as { 'log-level'?: CliLogLevel; debug?: boolean };
    const level: LogLevel | undefined = global['log-level'] === 'panic' ? 'fatal' : global['log-level'];
    setLogLevel(level ?? (global.debug ? 'debug' : 'info'));
    return parsed;
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    const exitCode = err instanceof UserError ? err.exitCode : (err as Errors.CLIError).oclif?.exit ?? 1;
    process.stderr.write(errorLine(err, exitCode, this.id));
    return this.exit(exitCode);
  }
}

/** The one stderr line for an error; usage errors (exit 2) point at the command's help. */
export function errorLine(err: unknown, exitCode: number, command?: string): string {
  const message = errorMessage(err)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('See more help'))
    .join(' ');
  const help = command ? `swarm ${command.replaceAll(':', ' ')} --help` : 'swarm --help';
  return `${chalk.red('Error:')} ${message}${exitCode === 2 && !message.includes('--help') ? ` (see '${help}')` : ''}\n`;
}
