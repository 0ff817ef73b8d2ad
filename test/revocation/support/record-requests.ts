/**
 * Counts the requests an app serves, from the one log line its outermost middleware
 * (observeRequests) writes per request: a logger for the app under test whose lines are kept. At
 * debug, where the revocation feed's answered polls (and health probes) are logged.
 */
import { createLogger, type Logger } from '../../../apps/shared/logger.ts';

export interface ServedRequest {
  method: string;
  path: string;
  status: number;
}

export function recordRequests(name: string): { logger: Logger; served: ServedRequest[] } {
  const served: ServedRequest[] = [];
  const logger = createLogger(name, 'debug', {
    write(line: string) {
      const entry = JSON.parse(line) as { msg?: string } & Partial<ServedRequest>;
      if (entry.msg === 'request') served.push({ method: entry.method!, path: entry.path!, status: entry.status! });
    },
  });
  return { logger, served };
}
