/**
 * Structured JSON logs (pino), one object per line, at the level from config.
 *
 * Secrets never reach a log line:
 * - request logging (observe-requests.ts) records the method and path, never the query string,
 *   headers or bodies, which is where tokens, codes, verifiers, passwords and cookies travel;
 * - as a second line of defence the fields below are redacted wherever a log call passes them.
 *
 * Human-facing output (the bootstrap admin password, the start-up banner) is written to the
 * terminal directly by the entry points, never through this logger.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'password', 'password_hash', 'client_secret', 'token', 'access_token', 'refresh_token', 'id_token',
  'code', 'code_verifier', 'authorization', 'cookie', 'set-cookie',
];

const REDACT = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'headers.authorization', 'headers.cookie', '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]',
];

/** `destination` defaults to stdout; tests pass a stream to read the lines back. */
export function createLogger(name: string, level: string, destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    base: { app: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
