import fs from 'node:fs/promises';
import { invalidArgument } from '../../src/errors';
import { connectSocket, connectTcp, run, waitFor } from '../../src/mysql/connect';
import type mysql from 'mysql2/promise';
import { dialectFor, parseGrantee, type Dialect, type Flavor, type Statement } from '../../src/mysql/dialect';

// SQL the agent runs on its instances, as root through the host side of the unix socket; what
// differs between flavors comes from the Dialect.

export async function waitReady(socket: string, timeoutMs: number, stop: () => Promise<string | undefined>): Promise<void> {
  await waitFor(
    'mysqld did not come up',
    async () => {
      const c = await connectSocket(socket, 2000);
      await c.end();
    },
    { timeoutMs, intervalMs: 250, stop },
  );
}

// On a replica (agent/movement) the agent's own writes stay out of the binlog: they would be
// errant GTIDs, and MariaDB's strict mode would stop replication on them.
export async function configureUsers(flavor: Flavor, socket: string, admin: { user: string; password: string }, replica = false): Promise<void> {
  const d = dialectFor(flavor);
  const noBinlog = replica ? [{ sql: 'SET SESSION sql_log_bin = 0', params: [] }] : [];
  await runOnSocket(socket, [...noBinlog, ...d.lockRootToSocket(), ...d.ensureAdminUser(admin.user, admin.password)]);
}

// The real check: the DBA's credentials work over TCP on the address the manager hands out.
// With the fleet CA (the node has a MySQL certificate): over TLS, verifying the server's
// certificate and address as a client would.
export async function checkLogin(host: string, port: number, admin: { user: string; password: string }, caFile?: string): Promise<void> {
  const ca = caFile ? await fs.readFile(caFile) : undefined;
  const conn = await connectTcp({ host, port, user: admin.user, password: admin.password, ...(ca ? { ssl: { ca } } : {}) });
  await conn.end();
}

// MySQL also has super_read_only, which keeps even SUPER users out; MariaDB has only read_only
// (the Dialect says which; agent/movement also revokes MariaDB's READ_ONLY ADMIN for a cut-over).
export function readOnlyStatements(flavor: Flavor, on: boolean): Statement[] {
  return dialectFor(flavor).setReadOnly(on);
}

const VARIABLE = /^[a-z][a-z0-9_]{0,63}$/;

// SET GLOBAL for server variables; names are checked (they cannot be bound as parameters).
export function setVariableStatements(vars: Record<string, string | number>): Statement[] {
  return Object.entries(vars).map(([name, value]) => {
    if (!VARIABLE.test(name)) throw invalidArgument(`"${name.slice(0, 70)}" is not a server variable name`);
    return { sql: `SET GLOBAL ${name} = ?`, params: [value] };
  });
}

export async function setReadOnly(flavor: Flavor, socket: string, on: boolean): Promise<void> {
  await runOnSocket(socket, readOnlyStatements(flavor, on));
}

export async function setVariables(socket: string, vars: Record<string, string | number>): Promise<void> {
  await runOnSocket(socket, setVariableStatements(vars));
}

export interface Account {
  user: string;
  host: string;
}

type Sql = { d: Dialect; run(sts: Statement[]): Promise<void>; rows<T>(st: Statement): Promise<T[]> };

// No account but root on the socket may write through read_only (docs/design.md, "Closed to
// client writes from the first boot"). Accounts made by berth never can; one that can (data
// made before this rule, a grant by hand as root) loses it here, and its sessions, whose global
// privileges were fixed when they connected, are ended. Answers the accounts it closed.
export async function closeReadOnlyBypass(s: Sql): Promise<Account[]> {
  const rows = await s.rows<{ grantee: string; privilege: string }>(s.d.readOnlyBypassers());
  const closed = new Map<string, Account>();
  for (const r of rows) {
    const a = parseGrantee(r.grantee);
    await s.run(s.d.revokeReadOnlyBypass(a.user, a.host, r.privilege));
    closed.set(`${a.user}@${a.host}`, a);
  }
  if (closed.size === 0) return [];
  const users = new Set([...closed.values()].map((a) => a.user));
  const sessions = await s.rows<{ id: number; user: string }>(s.d.clientConnections());
  // 1094: the session ended by itself meanwhile.
  for (const c of sessions.filter((c) => users.has(c.user))) await s.run([s.d.killConnection(Number(c.id))]).catch((err: { errno?: number }) => (err.errno === 1094 ? undefined : Promise.reject(err)));
  return [...closed.values()];
}

// The same at a boot, on a fresh socket connection.
export async function closeReadOnlyBypassOnSocket(flavor: Flavor, socket: string): Promise<Account[]> {
  const conn = await connectSocket(socket);
  try {
    return await closeReadOnlyBypass(sessionOf(conn, dialectFor(flavor)));
  } finally {
    await conn.end();
  }
}

function sessionOf(conn: mysql.Connection, d: Dialect): Sql {
  return {
    d,
    run: (sts) => run(conn, sts),
    rows: async <T>(st: Statement) => (await conn.query(st.sql, st.params))[0] as T[],
  };
}

async function runOnSocket(socket: string, statements: Statement[]): Promise<void> {
  if (statements.length === 0) return;
  const conn = await connectSocket(socket);
  try {
    await run(conn, statements);
  } finally {
    await conn.end();
  }
}
