/**
 * What every command shares: the global flags (`-l/--log-level`, `--debug`) and the error policy
 * (one clear line on stderr, non-zero exit, never a stack trace).
 */
import { Command, Errors, Flags, type Interfaces } from '@oclif/core';
import chalk from 'chalk';
import { errorMessage, UserError } from '../errors';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../log';

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    'log-level': Flags.option({
      char: 'l',
      options: LOG_LEVELS,
      summary: 'Log level: debug, info, warn, error or fatal (default info). Logs go to stderr.',
      helpGroup: 'GLOBAL',
    })(),
    debug: Flags.boolean({
      summary: 'Debug mode: sets the log level to debug unless --log-level is given.',
      env: 'DEBUG',
      helpGroup: 'GLOBAL',
    }),
  };

  /** Every command parses its flags through here, so the global flags take effect before it runs. */
  protected override async parse<F extends Record<string, unknown>, B extends Record<string, unknown>, A extends Record<string, unknown>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    const parsed = await super.parse(options, argv);
    const global = parsed.flags as { 'log-level'?: LogLevel; debug?: boolean };
    setLogLevel(global['log-level'] ?? (global.debug ? 'debug' : 'info'));
    return parsed;
  }

  protected override async catch(err: Error & { exitCode?: number }): Promise<unknown> {
    if (err instanceof Errors.ExitError) throw err;
    const exitCode = err instanceof UserError ? err.exitCode : (err as Errors.CLIError).oclif?.exit ?? 1;
    const message = errorMessage(err)
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('See more help'))
      .join(' ');
    process.stderr.write(`${chalk.red('Error:')} ${message}${exitCode === 2 && !message.includes('--help') ? ` (see 'swarm ${this.id} --help')` : ''}\n`);
    return this.exit(exitCode);
  }
}
