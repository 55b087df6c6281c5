import fs from 'node:fs/promises';
import path from 'node:path';
import { parseGrantee } from '../../src/mysql/dialect';
import type { Session } from './sql';

export interface Account {
  user: string;
  host: string;
}

// Which accounts read-only took the right to write through it from (MariaDB's READ_ONLY ADMIN),
// kept beside the instance until it is writable again. The manager's copy of that list lives in
// a step's output, which a cut-over re-run after a manager restart does not have: the second
// read-only finds nothing left to revoke, and an abandoned cut-over then gave nothing back. Here
// the list survives any restart of either side, and whoever makes the instance writable again
// restores all of it.
export const REVOKED_FILE = 'read-only-revoked.json';

// Present while a server that took writes has been made read-only to stop them (a cut-over's
// source, a switched-over primary). MySQL account changes lift super_read_only for a moment, and
// in that moment any session with CONNECTION_ADMIN (the DBA's account has ALL PRIVILEGES) writes
// through read_only: on such a server a write acknowledged there after the final GTID set was
// read is lost with it. The agent refuses those changes while this marker is present.
export const WRITES_STOPPED_FILE = 'writes-stopped';

export async function writesStopped(root: string): Promise<boolean> {
  return fs.access(path.join(root, WRITES_STOPPED_FILE)).then(
    () => true,
    () => false,
  );
}

async function markWritesStopped(root: string): Promise<void> {
  const fh = await fs.open(path.join(root, WRITES_STOPPED_FILE), 'w', 0o600);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function union(a: Account[], b: Account[]): Account[] {
  const seen = new Map<string, Account>();
  for (const x of [...a, ...b]) seen.set(`${x.user}@${x.host}`, { user: x.user, host: x.host });
  return [...seen.values()];
}

export async function readRevoked(root: string): Promise<Account[]> {
  const text = await fs.readFile(path.join(root, REVOKED_FILE), 'utf8').catch(() => '[]');
  try {
    const v = JSON.parse(text) as Account[];
    return Array.isArray(v) ? v.filter((a) => typeof a?.user === 'string' && typeof a?.host === 'string') : [];
  } catch {
    return [];
  }
}

// Written (fsynced, renamed into place) before the first REVOKE, so a crash between the two
// loses nothing.
export async function recordRevoked(root: string, accounts: Account[]): Promise<void> {
  const all = union(await readRevoked(root), accounts);
  const file = path.join(root, REVOKED_FILE);
  const tmp = `${file}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(all));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}

type Sql = Pick<Session, 'd' | 'run' | 'rows'>;

async function isReadOnly(s: Sql): Promise<boolean> {
  const [row] = await s.rows<{ ro: number }>(s.d.readOnlyState());
  return Number(row?.ro) === 1;
}

// On: read-only first (ordinary accounts stop at once), then accounts that could write through
// it lose that right for new sessions (their open sessions end with the kill); a server that
// was writable is marked (WRITES_STOPPED_FILE). Off: every account read-only ever took it from
// (this call's list and the recorded one) gets it back, then the server takes writes.
export async function setReadOnlyOn(s: Sql, root: string, readOnly: boolean, restore: Account[]): Promise<Account[]> {
  if (!readOnly) {
    for (const a of union(restore, await readRevoked(root))) {
      // 1133: the account was dropped meanwhile; nothing to give back.
      await s.run(s.d.restoreReadOnlyBypass(a.user, a.host)).catch((err: { errno?: number }) => (err.errno === 1133 ? undefined : Promise.reject(err)));
    }
    await s.run(s.d.setReadOnly(false));
    await fs.rm(path.join(root, REVOKED_FILE), { force: true });
    await fs.rm(path.join(root, WRITES_STOPPED_FILE), { force: true });
    return [];
  }
  // Marked before the switch, so a crash in between errs on the side of refusing.
  if (!(await isReadOnly(s))) await markWritesStopped(root);
  await s.run(s.d.setReadOnly(true));
  const q = s.d.readOnlyBypassers();
  const revoked = (q ? await s.rows<{ grantee: string }>(q) : []).map((r) => parseGrantee(r.grantee));
  if (revoked.length > 0) await recordRevoked(root, revoked);
  for (const a of revoked) await s.run(s.d.revokeReadOnlyBypass(a.user, a.host));
  return revoked;
}
