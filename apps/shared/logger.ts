/**
 * Structured JSON logs (pino). Secrets never reach a log line: the paths below are redacted
 * wherever they appear, and request logging records paths, not query strings or bodies.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'password', '*.password', 'client_secret', '*.client_secret', 'token', '*.token',
  'access_token', '*.access_token', 'refresh_token', '*.refresh_token', 'code', '*.code',
  'authorization', '*.authorization', 'headers.authorization', 'headers.cookie', '*.headers.cookie',
  'code_verifier', '*.code_verifier',
];

export function createLogger(name: string, level: string): Logger {
  return pino({
    name,
    level,
    base: { app: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
  });
}
