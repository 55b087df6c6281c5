import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mariadb, mysql, type Statement } from '../../src/mysql/dialect';
import { REVOKED_FILE, WRITES_STOPPED_FILE, setReadOnlyOn, writesStopped } from './read-only';

// A MariaDB server as far as read-only, READ_ONLY ADMIN and client sessions go.
function fakeServer(holders: string[], sessions: { id: number; user: string }[] = []) {
  const have = new Set(holders);
  const log: string[] = [];
  const killed: number[] = [];
  return {
    have,
    log,
    killed,
    d: mariadb,
    rows: async <T>(st: Statement) =>
      (st.sql.includes('USER_PRIVILEGES')
        ? [...have].map((a) => ({ grantee: `'${a.split('@')[0]}'@'${a.split('@')[1]}'`, privilege: 'READ_ONLY ADMIN' }))
        : st.sql.includes('PROCESSLIST')
          ? sessions
          : st.sql.includes('read_only AS ro')
            ? [{ ro: 0 }]
            : []) as T[],
    run: async (sts: Statement[]) => {
      for (const st of sts) {
        const who = `${st.params?.[0]}@${st.params?.[1]}`;
        if (st.sql.startsWith('REVOKE READ_ONLY ADMIN')) have.delete(who);
        if (st.sql.startsWith('GRANT')) have.add(who);
        if (st.sql.startsWith('KILL')) killed.push(Number(st.params[0]));
        if (/read_only|READ_ONLY/.test(st.sql)) log.push(st.sql);
      }
    },
  };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ro-'));

describe('read-only and the accounts that could write through it', () => {
  it('takes the right to write through read-only before the switch, ends those sessions, and never gives it back', async () => {
    const root = tmp();
    const s = fakeServer(['admin@%', 'app@10.0.0.%'], [{ id: 7, user: 'admin' }, { id: 8, user: 'reporting' }]);
    expect(await setReadOnlyOn(s, root, true)).toEqual([{ user: 'admin', host: '%' }, { user: 'app', host: '10.0.0.%' }]);
    expect(s.have.size).toBe(0);
    // The accounts lose it first, then the server turns read-only (MySQL refuses account changes
    // under super_read_only); only the sessions of the accounts that had it are ended here.
    expect(s.log.at(-1)).toBe('SET GLOBAL read_only = ON');
    expect(s.killed).toEqual([7]);
    // Writable again: nothing is granted back (an old version's record is removed).
    fs.writeFileSync(path.join(root, REVOKED_FILE), '[{"user":"admin","host":"%"}]');
    await setReadOnlyOn(s, root, false);
    expect(s.have.size).toBe(0);
    expect(s.log.some((l) => l.startsWith('GRANT'))).toBe(false);
    expect(fs.existsSync(path.join(root, REVOKED_FILE))).toBe(false);
  });

  it('a re-run finds nothing left to take', async () => {
    const root = tmp();
    const s = fakeServer(['admin@%']);
    await setReadOnlyOn(s, root, true);
    expect(await setReadOnlyOn(s, root, true)).toEqual([]);
  });

  // A MySQL server as far as read_only goes (no account holds SUPER or CONNECTION_ADMIN).
  function mysqlServer(readOnly: boolean) {
    const st = { readOnly };
    return {
      st,
      d: mysql,
      rows: async <T>(q: Statement) => (q.sql.includes('read_only AS ro') ? [{ ro: st.readOnly ? 1 : 0 }] : []) as T[],
      run: async (sts: Statement[]) => {
        for (const x of sts) if (/SET GLOBAL (super_)?read_only = (ON|OFF)/.test(x.sql)) st.readOnly = x.sql.endsWith('ON');
      },
    };
  }

  it('marks a server whose writes it stopped, not one that never took writes, and clears the mark when writable', async () => {
    const stopped = tmp();
    const s = mysqlServer(false);
    await setReadOnlyOn(s, stopped, true);
    expect(s.st.readOnly).toBe(true);
    expect(await writesStopped(stopped)).toBe(true);
    // A second read-only (a cut-over re-run) keeps the mark.
    await setReadOnlyOn(s, stopped, true);
    expect(await writesStopped(stopped)).toBe(true);
    await setReadOnlyOn(s, stopped, false);
    expect(s.st.readOnly).toBe(false);
    expect(fs.existsSync(path.join(stopped, WRITES_STOPPED_FILE))).toBe(false);

    // A replica made read-only again (a re-point) took no writes: no mark.
    const replica = tmp();
    await setReadOnlyOn(mysqlServer(true), replica, true);
    expect(await writesStopped(replica)).toBe(false);
  });
});
