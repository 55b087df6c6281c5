import { describe as group, expect, it } from 'vitest';
import { compare, contains, count, describe, emptyGtidSet, equals, formatGtidSet, isEmpty, parseGtidSet, subtract, union } from './gtid';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = 'a0b1c2d3-0000-1111-2222-333344445555';
const my = (t: string) => parseGtidSet('mysql', t);
const ma = (t: string) => parseGtidSet('mariadb', t);
const fmy = (t: string) => formatGtidSet(my(t));

group('MySQL GTID sets', () => {
  it('parse and print back the server’s own text', () => {
    expect(fmy(`${U1}:1-5`)).toBe(`${U1}:1-5`);
    expect(fmy(`${U1}:1-5:7-9,${U2}:3`)).toBe(`${U1}:1-5:7-9,${U2}:3`);
  });

  it('read an empty set as empty and print it as the empty string', () => {
    for (const t of ['', '  ', '\n']) {
      expect(isEmpty(my(t))).toBe(true);
      expect(fmy(t)).toBe('');
    }
  });

  it('normalize: sort, merge overlapping and adjacent intervals, lower-case, wrapped lines', () => {
    expect(fmy(`${U1}:7-9:1-3:4-5`)).toBe(`${U1}:1-5:7-9`);
    expect(fmy(`${U1}:1-5:3-8`)).toBe(`${U1}:1-8`);
    expect(fmy(`${U2}:1,\n${U1.toUpperCase()}:2`)).toBe(`${U1}:2,${U2}:1`);
    expect(fmy(`${U1}:1-2,${U1}:3-4`)).toBe(`${U1}:1-4`);
    expect(fmy(`${U1.replaceAll('-', '')}:1`)).toBe(`${U1}:1`);
  });

  it('keep tagged GTIDs (8.4+) apart from untagged ones of the same uuid', () => {
    const s = my(`${U1}:1-5:aa:1-3:bb_2:7,${U1}:AA:4`);
    expect(formatGtidSet(s)).toBe(`${U1}:1-5:aa:1-4:bb_2:7`);
    expect(count(s)).toBe(5 + 4 + 1);
    expect(contains(s, my(`${U1}:aa:2`))).toBe(true);
    // Transaction 7 of tag bb_2 is not transaction 7 of the untagged uuid.
    expect(contains(s, my(`${U1}:7`))).toBe(false);
    expect(formatGtidSet(subtract(s, my(`${U1}:1-5`)))).toBe(`${U1}:aa:1-4:bb_2:7`);
  });

  it('refuse malformed text', () => {
    expect(() => my('not-a-uuid:1-5')).toThrow(/server UUID/);
    expect(() => my(`${U1}:5-3`)).toThrow(/empty/);
    expect(() => my(`${U1}:0-3`)).toThrow(/below 1/);
    expect(() => my(`${U1}:1-x`)).toThrow(/neither/);
    expect(() => my(`${U1}:99999999999999999999`)).toThrow(/too large/);
  });

  it('contains, with gaps in intervals', () => {
    const s = my(`${U1}:1-5:7-9`);
    expect(contains(s, my(`${U1}:2-4`))).toBe(true);
    expect(contains(s, my(`${U1}:7-9`))).toBe(true);
    expect(contains(s, my(`${U1}:5-7`))).toBe(false); // 6 is the gap
    expect(contains(s, my(`${U2}:1`))).toBe(false);
    expect(contains(s, emptyGtidSet('mysql'))).toBe(true);
    expect(contains(emptyGtidSet('mysql'), s)).toBe(false);
  });

  it('subtract: what one side has that the other lacks', () => {
    expect(fmy(`${U1}:1-10`)).toBe(`${U1}:1-10`);
    expect(formatGtidSet(subtract(my(`${U1}:1-10`), my(`${U1}:3-4:8`)))).toBe(`${U1}:1-2:5-7:9-10`);
    expect(formatGtidSet(subtract(my(`${U1}:1-10,${U2}:1-3`), my(`${U1}:1-10`)))).toBe(`${U2}:1-3`);
    expect(isEmpty(subtract(my(`${U1}:1-10`), my(`${U1}:1-20`)))).toBe(true);
    expect(formatGtidSet(subtract(my(`${U1}:1-3:10-12`), my(`${U1}:2-11`)))).toBe(`${U1}:1:12`);
  });

  it('union merges intervals across uuids', () => {
    expect(formatGtidSet(union(my(`${U1}:1-3`), my(`${U1}:4-6:9,${U2}:1`)))).toBe(`${U1}:1-6:9,${U2}:1`);
    expect(formatGtidSet(union(emptyGtidSet('mysql'), my(`${U2}:5`)))).toBe(`${U2}:5`);
  });

  it('compare: equal, ahead, behind, diverged', () => {
    expect(compare(my(`${U1}:1-5`), my(`${U1}:1-5`))).toBe('equal');
    expect(compare(my(`${U1}:1-6`), my(`${U1}:1-5`))).toBe('ahead');
    expect(compare(my(`${U1}:1-5`), my(`${U1}:1-6`))).toBe('behind');
    expect(compare(my(`${U1}:1-5,${U2}:1`), my(`${U1}:1-6`))).toBe('diverged');
    expect(equals(my(`${U1}:1-3:4-5`), my(`${U1}:1-5`))).toBe(true);
  });
});

group('MariaDB GTID positions', () => {
  it('parse and print back, one entry per domain, sorted by domain', () => {
    expect(formatGtidSet(ma('0-1-7'))).toBe('0-1-7');
    expect(formatGtidSet(ma('2-5-3, 0-1-7'))).toBe('0-1-7,2-5-3');
    expect(formatGtidSet(ma(''))).toBe('');
    expect(isEmpty(ma(''))).toBe(true);
  });

  it('take the highest sequence per domain from a binlog state listing several server ids', () => {
    const s = ma('0-1-10,0-2-12,1-1-4');
    expect(formatGtidSet(s)).toBe('0-2-12,1-1-4');
    expect(count(s)).toBe(16);
  });

  it('refuse malformed text', () => {
    expect(() => ma('0-1')).toThrow(/domain-server-seq/);
    expect(() => ma(`${U1}:1-5`)).toThrow(/domain-server-seq/);
  });

  it('a position contains every earlier one of the same domain, whatever server wrote it', () => {
    expect(contains(ma('0-2-10'), ma('0-1-7'))).toBe(true);
    expect(contains(ma('0-1-7'), ma('0-1-8'))).toBe(false);
    expect(contains(ma('0-1-7'), ma('0-1-7,1-1-1'))).toBe(false);
    expect(contains(ma('0-1-7,1-3-2'), ma('1-3-2'))).toBe(true);
  });

  it('compare positions across domains', () => {
    expect(compare(ma('0-1-7'), ma('0-1-7'))).toBe('equal');
    expect(compare(ma('0-1-8'), ma('0-1-7'))).toBe('ahead');
    expect(compare(ma('0-1-7'), ma('0-1-8'))).toBe('behind');
    expect(compare(ma('0-1-8,1-1-1'), ma('0-1-9'))).toBe('diverged');
  });

  it('subtract gives the missing range, which describe() prints and format() refuses', () => {
    const missing = subtract(ma('0-1-10,1-4-3'), ma('0-1-7,1-4-3'));
    expect(count(missing)).toBe(3);
    expect(describe(missing)).toBe('0-1-[8-10]');
    expect(() => formatGtidSet(missing)).toThrow(/gaps/);
    expect(isEmpty(subtract(ma('0-1-7'), ma('0-1-9')))).toBe(true);
  });

  it('union keeps the server id of the later transaction', () => {
    expect(formatGtidSet(union(ma('0-1-7,1-1-2'), ma('0-2-9')))).toBe('0-2-9,1-1-2');
    expect(formatGtidSet(union(ma('0-2-9'), ma('0-1-7')))).toBe('0-2-9');
  });

  it('refuses to mix flavors', () => {
    expect(() => contains(ma('0-1-1'), my(`${U1}:1`))).toThrow(/cannot combine a (mysql|mariadb) GTID set/);
  });
});
