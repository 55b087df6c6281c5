import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mariadb, mysql, type Statement } from '../../src/mysql/dialect';
import { REVOKED_FILE, WRITES_STOPPED_FILE, readRevoked, setReadOnlyOn, union, writesStopped } from './read-only';

// A MariaDB server as far as read-only and READ_ONLY ADMIN go.
function fakeServer(holders: string[]) {
  const have = new Set(holders);
  const log: string[] = [];
  return {
    have,
    log,
    d: mariadb,
    rows: async <T>(_st: Statement) => [...have].map((a) => ({ grantee: `'${a.split('@')[0]}'@'${a.split('@')[1]}'` })) as T[],
    run: async (sts: Statement[]) => {
      for (const st of sts) {
        const who = `${st.params?.[0]}@${st.params?.[1]}`;
        if (st.sql.startsWith('REVOKE READ_ONLY ADMIN')) have.delete(who);
        if (st.sql.startsWith('GRANT READ_ONLY ADMIN')) have.add(who);
        if (/read_only/i.test(st.sql)) log.push(st.sql);
      }
    },
  };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'berth-ro-'));

describe('read-only and the accounts that could write through it', () => {
  it('gives READ_ONLY ADMIN back after a cut-over re-run (manager restart) is abandoned', async () => {
    const root = tmp();
    const s = fakeServer(['admin@%', 'app@10.0.0.%']);
    // First attempt: both revoked (the manager's step output then dies with the manager).
    expect(await setReadOnlyOn(s, root, true, [])).toEqual([{ user: 'admin', host: '%' }, { user: 'app', host: '10.0.0.%' }]);
    // The re-run after the restart finds nothing left to revoke ...
    expect(await setReadOnlyOn(s, root, true, [])).toEqual([]);
    expect(s.have.size).toBe(0);
    // ... and the abandoned cut-over restores with the re-run's (empty) list: all come back.
    await setReadOnlyOn(s, root, false, []);
    expect([...s.have].sort()).toEqual(['admin@%', 'app@10.0.0.%']);
    expect(fs.existsSync(path.join(root, REVOKED_FILE))).toBe(false);
  });

  it('records the accounts before revoking, and restores the union with what the caller names', async () => {
    const root = tmp();
    const s = fakeServer(['admin@%']);
    await setReadOnlyOn(s, root, true, []);
    expect(await readRevoked(root)).toEqual([{ user: 'admin', host: '%' }]);
    await setReadOnlyOn(s, root, false, [{ user: 'admin', host: '%' }, { user: 'other', host: 'localhost' }]);
    expect([...s.have].sort()).toEqual(['admin@%', 'other@localhost']);
  });

  it('skips accounts dropped meanwhile, and reads a damaged record as empty', async () => {
    const root = tmp();
    const s = fakeServer(['gone@%']);
    await setReadOnlyOn(s, root, true, []);
    const run = s.run;
    s.run = async (sts) => (sts[0]?.sql.startsWith('GRANT') ? Promise.reject(Object.assign(new Error('no such user'), { errno: 1133 })) : run(sts));
    await setReadOnlyOn(s, root, false, []);
    fs.writeFileSync(path.join(root, REVOKED_FILE), '{not json');
    expect(await readRevoked(root)).toEqual([]);
    expect(union([{ user: 'a', host: '%' }], [{ user: 'a', host: '%' }, { user: 'b', host: '%' }])).toHaveLength(2);
  });

  // A MySQL server as far as read_only goes (super_read_only stops everyone: nothing revoked).
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
    await setReadOnlyOn(s, stopped, true, []);
    expect(s.st.readOnly).toBe(true);
    expect(await writesStopped(stopped)).toBe(true);
    // A second read-only (a cut-over re-run) keeps the mark.
    await setReadOnlyOn(s, stopped, true, []);
    expect(await writesStopped(stopped)).toBe(true);
    await setReadOnlyOn(s, stopped, false, []);
    expect(s.st.readOnly).toBe(false);
    expect(fs.existsSync(path.join(stopped, WRITES_STOPPED_FILE))).toBe(false);

    // A replica made read-only again (a re-point) took no writes: no mark.
    const replica = tmp();
    await setReadOnlyOn(mysqlServer(true), replica, true, []);
    expect(await writesStopped(replica)).toBe(false);
  });
});
