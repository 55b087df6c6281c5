import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readEvents, scanStretch, transactionEnd } from './binlog-events';

// Real files, written by `mariadb-binlog -R --raw --start-position=0-7-4` and `mysqlbinlog
// --read-from-remote-source=BINLOG-DUMP-GTIDS --raw --exclude-gtids=…:1-4` against servers that had
// run CREATE DATABASE, CREATE TABLE, INSERT (2 rows), FLUSH BINARY LOGS, INSERT (1 row).
const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'testdata', name));
const UUID = '5a3d885d-f270-11f1-8909-f1d5593d2609';

describe('binlog stretches', () => {
  it('MySQL: the excluded transactions are absent; the rest, the declared state and the cut are read', () => {
    const a = scanStretch(fixture('mysql-excluded.000001'), 'mysql')!;
    expect(a.before).toBe('');
    expect(a.gtids).toEqual([`${UUID}:5`]);
    const b = scanStretch(fixture('mysql.000002'), 'mysql')!;
    expect(b.before).toBe(`${UUID}:1-5`);
    expect(b.gtids).toEqual([`${UUID}:6`]);
    expect(b.firstAt).toBeGreaterThan(1_700_000_000);
    // The closed file ends with a Rotate after the last transaction: the cut is before it.
    const buf = fixture('mysql.000002');
    expect(b.cut).toBeLessThanOrEqual(buf.length);
    expect(readEvents(buf).some((e) => e.end === b.cut)).toBe(true);
  });

  it('MariaDB: the state before the first transaction sent, and each transaction', () => {
    const a = scanStretch(fixture('mariadb-gtid-start.000001'), 'mariadb')!;
    expect(a.before).toBe('0-7-4');
    expect(a.gtids).toEqual(['0-7-5']);
    const b = scanStretch(fixture('mariadb.000002'), 'mariadb')!;
    expect(b.before).toBe('0-7-5');
    // Two DROP USER statements (DDL: a standalone GTID and its one Query) followed the insert.
    expect(b.gtids).toEqual(['0-7-6', '0-7-7', '0-7-8']);
  });

  it('a tail cut mid-transaction stops at the last complete one, and resumes from an offset', () => {
    const buf = fixture('mariadb-gtid-start.000001');
    const whole = scanStretch(buf, 'mariadb')!;
    const cutShort = scanStretch(buf.subarray(0, whole.cut - 3), 'mariadb')!;
    expect(cutShort.gtids).toEqual([]);
    expect(cutShort.cut).toBe(cutShort.headerEnd);
    expect(scanStretch(buf, 'mariadb', whole.cut)!.gtids).toEqual([]);
    expect(scanStretch(Buffer.from('nope'), 'mysql')).toBeUndefined();
  });

  it("finds where one GTID's transaction ends, and nothing for a GTID the file lacks", () => {
    const buf = fixture('mariadb.000002');
    const ends = ['0-7-6', '0-7-7', '0-7-8'].map((g) => transactionEnd(buf, 'mariadb', g)!);
    expect(ends[0]).toBeGreaterThan(0);
    // Each end is an event boundary, in order; the cut file holds exactly the transactions up to it.
    expect(ends[0]! < ends[1]! && ends[1]! < ends[2]!).toBe(true);
    expect(scanStretch(buf.subarray(0, ends[1]), 'mariadb')!.gtids).toEqual(['0-7-6', '0-7-7']);
    expect(transactionEnd(buf, 'mariadb', '0-7-5')).toBeUndefined();
    expect(transactionEnd(buf, 'mariadb', '0-7-60')).toBeUndefined();
    const my = fixture('mysql.000002');
    const end = transactionEnd(my, 'mysql', `${UUID}:6`)!;
    expect(scanStretch(my.subarray(0, end), 'mysql')!.gtids).toEqual([`${UUID}:6`]);
    expect(transactionEnd(my, 'mysql', `${UUID}:5`)).toBeUndefined();
  });
});
