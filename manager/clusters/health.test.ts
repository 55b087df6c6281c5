import { describe, expect, it } from 'vitest';
import { memberHealth, type MemberStatus } from './health';

const status = (over: Partial<MemberStatus> = {}): MemberStatus => ({
  configured: true, ioRunning: true, ioConnecting: false, sqlRunning: true, secondsBehind: 0, lastIoError: '', lastSqlError: '',
  receivedGtids: '0-1-10', executedGtids: '0-1-10', sourceHost: '127.0.0.11', sourcePort: 4001, readOnly: true, ...over,
});
const primary = { host: '127.0.0.11', port: 4001, executedGtids: '0-1-10' };
const replica = (s: Partial<MemberStatus> = {}, over = {}) => memberHealth('mariadb', { role: 'replica', fenced: false, state: 'running', status: status(s), primary, ...over });

describe('memberHealth', () => {
  it('a replica caught up, read-only, replicating from the primary is ok', () => {
    expect(replica()).toEqual({ health: 'ok', lagTransactions: 0, problem: '' });
  });
  it('lagging by transactions or seconds', () => {
    expect(replica({ executedGtids: '0-1-5' }, { primary: { ...primary, executedGtids: '0-1-2000' } })).toMatchObject({ health: 'lagging', lagTransactions: 1995 });
    expect(replica({ secondsBehind: 30 })).toMatchObject({ health: 'lagging' });
    // A few transactions behind is normal under load.
    expect(replica({ executedGtids: '0-1-8' })).toMatchObject({ health: 'ok', lagTransactions: 2 });
  });
  it('broken: stopped applier, stopped receiver, wrong source, writable replica, not configured', () => {
    expect(replica({ sqlRunning: false, lastSqlError: 'Duplicate entry' })).toMatchObject({ health: 'broken', problem: /SQL thread is stopped: Duplicate entry/ });
    expect(replica({ ioRunning: false })).toMatchObject({ health: 'broken' });
    expect(replica({ ioRunning: false, ioConnecting: true, secondsBehind: -1 })).toMatchObject({ health: 'lagging' });
    expect(replica({ sourcePort: 4002 })).toMatchObject({ health: 'broken', problem: /not the primary 127.0.0.11:4001/ });
    expect(replica({ readOnly: false })).toMatchObject({ health: 'broken', problem: 'a replica is writable' });
    expect(replica({ configured: false })).toMatchObject({ health: 'broken' });
  });
  it('the primary is ok when writable, broken when read-only', () => {
    const p = (readOnly: boolean) => memberHealth('mysql', { role: 'primary', fenced: false, state: 'running', status: status({ configured: false, readOnly }) });
    expect(p(false).health).toBe('ok');
    expect(p(true)).toMatchObject({ health: 'broken', problem: 'the primary is read-only' });
  });
  it('fenced, creating, down and unreachable come before any status', () => {
    expect(replica({}, { fenced: true }).health).toBe('fenced');
    expect(replica({}, { state: 'creating' }).health).toBe('creating');
    expect(replica({}, { state: 'unknown' })).toMatchObject({ health: 'down', problem: 'the instance is unknown' });
    expect(memberHealth('mariadb', { role: 'replica', fenced: false, state: 'running' }).health).toBe('unreachable');
  });
});
