/** Long-running commands stop cleanly on SIGINT/SIGTERM: the signal aborts, the command winds down. */
import { log } from '../log';

export function abortOnSignals(): AbortSignal {
  const controller = new AbortController();
  const stop = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.warn(`Received ${sig} again, exiting now`);
      process.exit(130);
    }
    log.info(`Received ${sig}, shutting down`);
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  // After the first signal, a second one forces exit.
  controller.signal.addEventListener('abort', () => {
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return controller.signal;
}
