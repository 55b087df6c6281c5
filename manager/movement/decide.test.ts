import { describe, expect, it } from 'vitest';
import { describe as gtidText } from '../../src/mysql/gtid';
import { errantTransactions, hasAll, isCaughtUp, lagTransactions, mayCutOver, mostAdvanced, replicationBroken, type ReplicaView } from './decide';

const U1 = '3e11fa47-71ca-11e1-9e33-c80aa9429562';
const U2 = 'a0b1c2d3-0000-1111-2222-333344445555';
const limits = { maxSeconds: 2, maxTransactions: 100 };
const running = (executed: string, over: Partial<ReplicaView> = {}): ReplicaView => ({
  ioRunning: true,
  ioConnecting: false,
  sqlRunning: true,
  secondsBehind: 0,
  lastIoError: '',
  lastSqlError: '',
  receivedGtids: executed,
  executedGtids: executed,
  ...over,
});

describe('replication health', () => {
  it('a stopped applier or a stopped (not reconnecting) receiver is broken', () => {
    expect(replicationBroken(running('0-1-5'))).toBeUndefined();
    expect(replicationBroken(running('0-1-5', { sqlRunning: false, lastSqlError: 'Duplicate entry' }))).toMatch(/SQL thread is stopped: Duplicate entry/);
    expect(replicationBroken(running('0-1-5', { ioRunning: false, lastIoError: 'Access denied' }))).toMatch(/IO thread is stopped: Access denied/);
    expect(replicationBroken(running('0-1-5', { ioRunning: false, ioConnecting: true }))).toBeUndefined();
  });
});

describe('caught up', () => {
  it('MariaDB: within the transaction and seconds limits', () => {
    expect(isCaughtUp('mariadb', '0-1-150', running('0-1-100'), limits)).toEqual({ ok: true });
    expect(isCaughtUp('mariadb', '0-1-500', running('0-1-100'), limits)).toEqual({ ok: false, reason: '400 transactions behind (limit 100)' });
    expect(isCaughtUp('mariadb', '0-1-101', running('0-1-100', { secondsBehind: 30 }), limits)).toEqual({ ok: false, reason: '30 s behind (limit 2 s)' });
    expect(isCaughtUp('mariadb', '0-1-101', running('0-1-100', { secondsBehind: null }), limits).ok).toBe(false);
  });

  it('refuses a replica with transactions of its own (errant), even if otherwise current', () => {
    const v = isCaughtUp('mariadb', '0-1-100', running('0-1-100,1-9-2'), limits);
    expect(v).toEqual({ ok: false, reason: 'the replica has transactions the source does not: 1-9-2' });
    expect(gtidText(errantTransactions('mysql', `${U1}:1-10,${U2}:1-2`, `${U1}:1-12`))).toBe(`${U2}:1-2`);
  });

  it('MySQL: counts the source’s transactions missing on the replica, gaps included', () => {
    expect(lagTransactions('mysql', `${U1}:1-100`, `${U1}:1-40:50-100`)).toBe(9);
    expect(lagTransactions('mysql', `${U1}:1-100`, `${U1}:1-100`)).toBe(0);
    expect(isCaughtUp('mysql', `${U1}:1-100`, running(`${U1}:1-99`), limits)).toEqual({ ok: true });
  });

  it('may cut over only while connected to the source', () => {
    expect(mayCutOver('mariadb', '0-1-10', running('0-1-10'), limits)).toEqual({ ok: true });
    expect(mayCutOver('mariadb', '0-1-10', running('0-1-10', { ioRunning: false, ioConnecting: true }), limits)).toEqual({ ok: false, reason: 'the replica is not connected to the source' });
  });

  it('has everything once the source stopped writing', () => {
    expect(hasAll('mariadb', '0-1-10', '0-1-10')).toBe(true);
    expect(hasAll('mariadb', '0-1-9', '0-1-10')).toBe(false);
    expect(hasAll('mysql', `${U1}:1-10`, '')).toBe(true);
  });
});

describe('most advanced replica (failover)', () => {
  it('picks the one whose received and executed sets contain every other’s', () => {
    const r = mostAdvanced('mysql', [
      { name: 'r1', receivedGtids: `${U1}:1-90`, executedGtids: `${U1}:1-90` },
      // Received more than it applied: the relay log counts.
      { name: 'r2', receivedGtids: `${U1}:1-100`, executedGtids: `${U1}:1-95` },
      { name: 'r3', receivedGtids: '', executedGtids: `${U1}:1-97` },
    ]);
    expect(r).toMatchObject({ ok: true, name: 'r2' });
  });

  it('takes the first of equals, MariaDB positions too', () => {
    expect(
      mostAdvanced('mariadb', [
        { name: 'a', receivedGtids: '0-1-50', executedGtids: '0-1-50' },
        { name: 'b', receivedGtids: '0-1-50', executedGtids: '0-1-49' },
      ]),
    ).toMatchObject({ ok: true, name: 'a' });
  });

  it('refuses when the replicas diverged, naming them', () => {
    const r = mostAdvanced('mysql', [
      { name: 'r1', receivedGtids: `${U1}:1-100`, executedGtids: `${U1}:1-100` },
      { name: 'r2', receivedGtids: `${U1}:1-90,${U2}:1`, executedGtids: `${U1}:1-90,${U2}:1` },
      { name: 'r3', receivedGtids: `${U1}:1-80`, executedGtids: `${U1}:1-80` },
    ]);
    expect(r).toMatchObject({ ok: false, diverged: ['r1', 'r2'] });
    expect(mostAdvanced('mysql', [])).toMatchObject({ ok: false });
  });
});
