import { describe, expect, it } from 'vitest';
import { judge, verdict } from './checks';

const tbl = (name: string, rows: number, checksum: string, ok = true, sampled = true) => ({ schema: 'app', name, ok, message: ok ? '' : 'Table is marked as crashed', sampled, rows, checksum });
const G = '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-20';

describe('drill checks', () => {
  it('verified: every table checked, sample equal to the source at the same GTID set', () => {
    const c = judge('mysql', [tbl('a', 5, '11'), tbl('b', 2, '22'), tbl('c', 0, '', true, false)], G, { tables: [tbl('a', 5, '11'), tbl('b', 2, '22')], executedGtids: G });
    expect(c.comparison).toBe('equal');
    expect(verdict(c)).toMatchObject({ ok: true, message: expect.stringMatching(/3 tables passed.*2 sampled tables equal/) });
  });

  it('fails when a table fails CHECK TABLE', () => {
    const c = judge('mysql', [tbl('a', 5, '11'), tbl('b', 0, '', false)], G);
    expect(verdict(c)).toMatchObject({ ok: false, message: expect.stringMatching(/1 of 2 tables failed CHECK TABLE: app.b: Table is marked as crashed/) });
  });

  it('fails when a count or checksum differs from the source at the same GTID set', () => {
    const c = judge('mysql', [tbl('a', 5, '11'), tbl('b', 2, '99')], G, { tables: [tbl('a', 5, '11'), tbl('b', 2, '22')], executedGtids: G });
    expect(c.comparison).toBe('differs');
    expect(verdict(c).ok).toBe(false);
    expect(verdict(c).message).toMatch(/app.b: 2 rows, checksum 99 restored; 2 rows, checksum 22 on the source/);
  });

  it('does not compare with a source that moved past the backup', () => {
    const c = judge('mysql', [tbl('a', 5, '11')], G, { tables: [tbl('a', 6, '12')], executedGtids: '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-21' });
    expect(c.comparison).toBe('moved');
    expect(verdict(c).ok).toBe(true);
  });

  it('compares MariaDB positions as sets', () => {
    const c = judge('mariadb', [tbl('a', 5, '11')], '0-1-7', { tables: [tbl('a', 5, '11')], executedGtids: '0-1-7' });
    expect(c.comparison).toBe('equal');
  });
});
