import pino from 'pino';
import { logDestination, logFormatFromEnv, type LogFormat } from './logformat';

export type Logger = pino.Logger;

// Keys whose values never reach a log, at any depth. `sql` is here because a statement can carry
// a password (CREATE USER … IDENTIFIED BY '…'): mysql2 puts the failed statement on its errors.
export const SECRET_KEYS = new Set(
  ['password', 'adminPassword', 'admin_password', 'replicationPassword', 'monitorPassword', 'passwd', 'secret', 'token', 'adminToken', 'authorization', 'sql', 'values'].map((k) =>
    k.toLowerCase(),
  ),
);
const CENSOR = '[redacted]';
// A password literal inside SQL text (a server's error message quotes the statement near the error).
// `BY '…'` alone too: the server's "near '…'" fragment may start after IDENTIFIED. PASSWORD
// without a word boundary: MASTER_PASSWORD='…', SOURCE_PASSWORD='…'.
const SQL_SECRET = /((?:\bIDENTIFIED\s+WITH\s+\S+\s+(?:BY|AS)|\bBY|PASSWORD\s*(?:\(|=|FOR\s+\S+\s*=\s*(?:PASSWORD\s*\()?))\s*)(['"])(?:\\.|(?!\2)[^\\])*(?:\2|$)/gi;

export function scrubText(s: string): string {
  return s.replace(SQL_SECRET, `$1'${CENSOR}'`);
}

// A copy of what is about to be logged with every secret key censored and SQL password literals
// cut out of strings. Errors become plain objects (type, message, stack and their own fields) so
// the fields a driver hangs on them are scrubbed too.
export function scrub(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value) || depth > 8) return '[…]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1, seen));
  if (Buffer.isBuffer(value) || value instanceof Date) return value;
  const out: Record<string, unknown> = {};
  if (value instanceof Error) {
    out.type = value.name;
    out.message = value.message;
    out.stack = value.stack;
  }
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.has(k.toLowerCase()) ? CENSOR : scrub(v, depth + 1, seen);
  for (const k of ['message', 'stack'] as const) if (typeof out[k] === 'string') out[k] = scrubText(out[k] as string);
  return out;
}

// JSON lines on stderr, or pretty ones (logformat.ts), or into `out` when it is a stream; secrets
// are censored so a password can never reach a log even when a whole request object or a driver
// error is logged.
export function createLogger(name: string, level = process.env.BERTH_LOG_LEVEL ?? 'info', out: LogFormat | pino.DestinationStream = logFormatFromEnv()): Logger {
  return pino(
    {
      name,
      level,
      // scrub() already turned errors into plain objects; pino's own err serializer would rename their type.
      serializers: { err: (e: unknown) => e },
      formatters: {
        log: (obj) => scrub(obj) as Record<string, unknown>,
        bindings: (b) => scrub(b) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          // log.error(err) takes its message from the error: scrub both before pino sees them.
          const [first, ...rest] = args as unknown[];
          const lead = first instanceof Error ? [{ err: first }, ...(typeof rest[0] === 'string' ? [] : [first.message])] : [first];
          method.apply(this, [...lead, ...rest].map((a) => (typeof a === 'string' ? scrubText(a) : a)) as Parameters<typeof method>);
        },
      },
      // Kept as a second line of defence should a formatter ever be bypassed.
      redact: {
        paths: ['password', '*.password', '*.adminPassword', 'adminPassword', '*.*.password', '*.*.adminPassword', 'sql', '*.sql'],
        censor: CENSOR,
      },
    },
    typeof out === 'string' ? logDestination(out) : out,
  );
}
