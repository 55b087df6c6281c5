import fs from 'node:fs/promises';
import { invalidArgument } from '../../src/errors';
import { connectSocket, connectTcp, run, waitFor } from '../../src/mysql/connect';
import { dialectFor, type Flavor, type Statement } from '../../src/mysql/dialect';

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

async function runOnSocket(socket: string, statements: Statement[]): Promise<void> {
  if (statements.length === 0) return;
  const conn = await connectSocket(socket);
  try {
    await run(conn, statements);
  } finally {
    await conn.end();
  }
}
