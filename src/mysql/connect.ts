import mysql from 'mysql2/promise';
import type { Statement } from './dialect';

// MariaDB's unix_socket and MySQL's auth_socket check the peer's uid on the socket and need no
// data from the client; if the server asks for them by name, answer with an empty packet.
const socketAuth = () => () => Buffer.alloc(0);
const authPlugins = { unix_socket: socketAuth, auth_socket: socketAuth };

export async function connectSocket(socketPath: string, timeoutMs = 5000): Promise<mysql.Connection> {
  return mysql.createConnection({ socketPath, user: 'root', connectTimeout: timeoutMs, authPlugins, multipleStatements: false });
}

// ssl: verify the server against this CA (and its address against the certificate).
export async function connectTcp(opts: { host: string; port: number; user: string; password: string; timeoutMs?: number; ssl?: { ca: Buffer } }): Promise<mysql.Connection> {
  return mysql.createConnection({ host: opts.host, port: opts.port, user: opts.user, password: opts.password, connectTimeout: opts.timeoutMs ?? 5000, ...(opts.ssl ? { ssl: { ca: opts.ssl.ca, rejectUnauthorized: true } } : {}) });
}

export async function run(conn: mysql.Connection, statements: Statement[]): Promise<void> {
  for (const st of statements) await conn.query(st.sql, st.params);
}

// Polls until `attempt` succeeds or the deadline passes; `stop` can end the wait early with a
// reason (a container that exited will never answer).
export async function waitFor<T>(
  what: string,
  attempt: () => Promise<T>,
  opts: { timeoutMs: number; intervalMs?: number; stop?: () => Promise<string | undefined> },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      return await attempt();
    } catch (err) {
      last = err;
    }
    const reason = opts.stop ? await opts.stop() : undefined;
    if (reason) throw new Error(`${what}: ${reason}`);
    if (Date.now() >= deadline) {
      throw new Error(`${what}: no answer within ${Math.round(opts.timeoutMs / 1000)} s (last error: ${last instanceof Error ? last.message : String(last)})`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
