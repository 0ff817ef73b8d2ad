/**
 * Runs an app's shutdown once, on the first SIGTERM (docker stop, systemd, Kubernetes) or SIGINT
 * (Ctrl-C), then exits: 0 when it completed, 1 when it failed or overran `hardLimitMs`.
 *
 * Further signals are ignored rather than treated as "force quit": under `npm start` a Ctrl-C
 * reaches each app twice (from the terminal and from the launcher), and the shutdown is already
 * bounded by its own timeout. Under the launcher an app also stops when the launcher's IPC
 * channel goes away, so a killed launcher never leaves an app holding its port.
 */
import type { Logger } from './logger.ts';

export function onShutdownSignal(logger: Logger, hardLimitMs: number, stop: () => Promise<void>): void {
  let started = false;
  const handle = (signal: NodeJS.Signals) => {
    if (started) return;
    started = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error({ hardLimitMs }, 'shutdown took too long; exiting');
      process.exit(1);
    }, hardLimitMs).unref();
    stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handle);
  process.on('SIGINT', handle);
  if (process.send) process.once('disconnect', () => handle('SIGHUP'));
}
