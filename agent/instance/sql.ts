import fs from 'node:fs/promises';
import { waitFor } from '../../src/wait';
import { parseGrantee, type Flavor } from '../../src/mysql/dialect';
import { handshake, loginWorks, onSocket, type Session } from '../session';

// SQL the agent runs on its instances, as root through the host side of the unix socket
// (agent/session.ts); what differs between flavors comes from the Dialect.

export async function waitReady(socket: string, timeoutMs: number, stop: () => Promise<string | undefined>): Promise<void> {
  await waitFor(
    'mysqld did not come up',
    () => handshake(socket, 2000),
    { timeoutMs, intervalMs: 250, stop },
  );
}

// On a replica (agent/movement) the agent's own writes stay out of the binlog: they would be
// errant GTIDs, and MariaDB's strict mode would stop replication on them.
export async function configureUsers(flavor: Flavor, socket: string, admin: { user: string; password: string }, replica = false): Promise<void> {
  await onSocket(socket, flavor, async (s) => {
    const sts = [...s.d.lockRootToSocket(), ...s.d.ensureAdminUser(admin.user, admin.password)];
    await s.run(replica ? s.d.unlogged(sts) : sts, [admin.password]);
  });
}

// The real check: the DBA's credentials work over TCP on the address the manager hands out.
// With the fleet CA (the node has a MySQL certificate): over TLS, verifying the server's
// certificate and address as a client would.
export async function checkLogin(host: string, port: number, admin: { user: string; password: string }, caFile?: string): Promise<void> {
  const ca = caFile ? await fs.readFile(caFile) : undefined;
  await loginWorks({ host, port, user: admin.user, password: admin.password, ...(ca ? { ca } : {}) });
}

// MySQL also has super_read_only, which keeps even SUPER users out; MariaDB has only read_only
// (the Dialect says which; agent/movement also revokes MariaDB's READ_ONLY ADMIN for a cut-over).
export async function setReadOnly(flavor: Flavor, socket: string, on: boolean): Promise<void> {
  await onSocket(socket, flavor, (s) => s.run(s.d.setReadOnly(on)));
}

export interface Account {
  user: string;
  host: string;
}

type Sql = Pick<Session, 'd' | 'run' | 'rows'>;

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
  return onSocket(socket, flavor, closeReadOnlyBypass);
}
