import { connectSocket, connectTcp } from '../src/mysql/connect';
import { dialectFor, type Dialect, type Flavor, type Statement } from '../src/mysql/dialect';

// The agent's one way to run SQL on an instance: a connection as root through the host side of
// the instance's unix socket (docs/design.md, "SQL through the host side of the instance's unix
// socket"), the flavor's Dialect beside it, closed when the work is done. Every statement comes
// from the Dialect (.dependency-cruiser.cjs keeps mysql2 and src/mysql/connect to this file).
export interface Session {
  d: Dialect;
  // Runs statements in order; an error's text never carries the secrets given (mysql2 quotes
  // the interpolated statement in syntax errors).
  run(sts: Statement[], secrets?: string[]): Promise<void>;
  rows<T = Record<string, unknown>>(st: Statement): Promise<T[]>;
}

// `abrupt`: closed without a goodbye to the server, for a server that may be going away (a
// CLONE's restart) where a polite close could wait on it.
export async function onSocket<T>(socket: string, flavor: Flavor, fn: (s: Session) => Promise<T>, opts: { timeoutMs?: number; abrupt?: boolean } = {}): Promise<T> {
  const conn = await connectSocket(socket, opts.timeoutMs);
  const s: Session = {
    d: dialectFor(flavor),
    run: async (sts, secrets = []) => {
      for (const st of sts) await conn.query(st.sql, st.params).catch((err: unknown) => Promise.reject(redacted(err, secrets)));
    },
    rows: async <R>(st: Statement) => (await conn.query(st.sql, st.params))[0] as R[],
  };
  try {
    return await fn(s);
  } finally {
    if (opts.abrupt) conn.destroy();
    else await conn.end().catch(() => conn.destroy());
  }
}

// Resolves when mysqld completes a handshake on its socket in time, else throws why not; a
// frozen or hung server accepts the connection in the kernel's backlog but never greets.
export async function handshake(socket: string, timeoutMs: number): Promise<void> {
  const c = await connectSocket(socket, timeoutMs);
  await c.end().catch(() => c.destroy());
}

export function answers(socket: string, timeoutMs: number): Promise<boolean> {
  return handshake(socket, timeoutMs).then(
    () => true,
    () => false,
  );
}

// The DBA's credentials work over TCP on the address the manager hands out; with `ca`, over TLS,
// verifying the server's certificate and address as a client would. Throws when they do not.
export async function loginWorks(opts: { host: string; port: number; user: string; password: string; ca?: Buffer }): Promise<void> {
  const conn = await connectTcp({ host: opts.host, port: opts.port, user: opts.user, password: opts.password, ...(opts.ca ? { ssl: { ca: opts.ca } } : {}) });
  await conn.end();
}

export function redacted(err: unknown, secrets: string[]): Error {
  let msg = err instanceof Error ? err.message : String(err);
  for (const secret of secrets) if (secret) msg = msg.replaceAll(secret, '[redacted]');
  const out = new Error(msg);
  (out as Error & { errno?: number }).errno = (err as { errno?: number }).errno;
  return out;
}
