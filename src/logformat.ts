import type { DestinationStream } from 'pino';
import pino from 'pino';
import pretty from 'pino-pretty';

export const LOG_FORMATS = ['auto', 'pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

// auto: one coloured line per event for a person at a terminal, JSON lines for everything else
// (files, pipes, docker logs, log shippers).
export function prettyWanted(format: LogFormat, isTty = Boolean(process.stderr.isTTY)): boolean {
  return format === 'pretty' || (format === 'auto' && isTty);
}

// Where a program's logs go: stderr, either way. Synchronous so a line written just before
// process.exit() is never lost.
export function logDestination(format: LogFormat): DestinationStream {
  if (!prettyWanted(format)) return pino.destination(2);
  return pretty({ destination: 2, sync: true, colorize: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}

export function logFormatFromEnv(): LogFormat {
  const v = process.env.BERTH_LOG_FORMAT;
  return (LOG_FORMATS as readonly string[]).includes(v ?? '') ? (v as LogFormat) : 'auto';
}
