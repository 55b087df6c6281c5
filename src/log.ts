import pino from 'pino';
import { logDestination, logFormatFromEnv, type LogFormat } from './logformat';

export type Logger = pino.Logger;

// JSON lines on stderr, or pretty ones (logformat.ts); anything named like a secret is redacted so a password can never reach
// a log even when a whole request object is logged.
export function createLogger(name: string, level = process.env.BERTH_LOG_LEVEL ?? 'info', format: LogFormat = logFormatFromEnv()): Logger {
  return pino(
    {
      name,
      level,
      redact: {
        paths: ['password', '*.password', '*.adminPassword', 'adminPassword', '*.*.password', '*.*.adminPassword'],
        censor: '[redacted]',
      },
    },
    logDestination(format),
  );
}
