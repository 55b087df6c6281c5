import fs from 'node:fs/promises';
import path from 'node:path';
import { closeReadOnlyBypass, type Account } from '../instance/sql';
import type { Session } from './sql';

// What an earlier version recorded of the accounts it revoked, to give them back later. Nothing
// is given back any more (closeReadOnlyBypass): the file is only removed.
export const REVOKED_FILE = 'read-only-revoked.json';

// Present while a server that took writes has been made read-only to stop them (a cut-over's
// source, a switched-over primary). MySQL account changes lift super_read_only for a moment, and
// in that moment a session with CONNECTION_ADMIN would write through read_only. No account of
// berth's holds it any more (closeReadOnlyBypass), so this is a second line: the agent refuses
// those changes while this marker is present.
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

type Sql = Pick<Session, 'd' | 'run' | 'rows'>;

async function isReadOnly(s: Sql): Promise<boolean> {
  const [row] = await s.rows<{ ro: number }>(s.d.readOnlyState());
  return Number(row?.ro) === 1;
}

// On: accounts that could write through read-only lose that right and their sessions end
// (before the switch: on MySQL it is an account change, which super_read_only would refuse),
// then the server turns read-only; a server that was writable is marked (WRITES_STOPPED_FILE).
// Off: the server takes writes; no right to write through read-only is ever given back.
export async function setReadOnlyOn(s: Sql, root: string, readOnly: boolean): Promise<Account[]> {
  if (!readOnly) {
    await s.run(s.d.setReadOnly(false));
    await fs.rm(path.join(root, REVOKED_FILE), { force: true });
    await fs.rm(path.join(root, WRITES_STOPPED_FILE), { force: true });
    return [];
  }
  // Marked before the switch, so a crash in between errs on the side of refusing.
  if (!(await isReadOnly(s))) await markWritesStopped(root);
  const closed = await closeReadOnlyBypass(s);
  await s.run(s.d.setReadOnly(true));
  return closed;
}
