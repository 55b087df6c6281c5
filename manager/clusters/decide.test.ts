import { describe, expect, it } from 'vitest';
import { chooseSwitchoverTarget, type ReplicaFacts } from './decide';
import type { MemberStatus } from './health';

const st = (executed: string, over: Partial<MemberStatus> = {}): MemberStatus => ({
  configured: true, ioRunning: true, ioConnecting: false, sqlRunning: true, secondsBehind: 0, lastIoError: '', lastSqlError: '',
  receivedGtids: executed, executedGtids: executed, sourceHost: 'h', sourcePort: 1, readOnly: true, ...over,
});
const r = (id: string, status?: MemberStatus, over: Partial<ReplicaFacts> = {}): ReplicaFacts => ({ id, name: `n${id}`, fenced: false, state: 'running', status, ...over });

describe('chooseSwitchoverTarget', () => {
  it('picks the most advanced fit replica, counting what it received', () => {
    expect(chooseSwitchoverTarget('mariadb', '0-1-100', [r('a', st('0-1-90')), r('b', st('0-1-95', { receivedGtids: '0-1-100' })), r('c', st('0-1-97'))])).toEqual({ ok: true, id: 'b', name: 'nb' });
  });
  it('takes the first of equals', () => {
    expect(chooseSwitchoverTarget('mariadb', '0-1-10', [r('a', st('0-1-10')), r('b', st('0-1-10'))])).toMatchObject({ ok: true, id: 'a' });
  });
  it('skips fenced, stopped, silent, broken, disconnected and errant replicas', () => {
    const out = chooseSwitchoverTarget('mariadb', '0-1-10', [
      r('a', st('0-1-10'), { fenced: true }),
      r('b', st('0-1-10'), { state: 'stopped' }),
      r('c', undefined),
      r('d', st('0-1-10', { sqlRunning: false, lastSqlError: 'boom' })),
      r('e', st('0-1-10', { ioRunning: false, ioConnecting: true })),
      r('f', st('0-1-10,1-9-3')),
      r('g', st('0-1-8')),
    ]);
    expect(out).toEqual({ ok: true, id: 'g', name: 'ng' });
  });
  it('explains why nobody can be promoted', () => {
    const out = chooseSwitchoverTarget('mariadb', '0-1-10', [r('a', st('0-1-10'), { fenced: true }), r('b', st('0-1-10,1-9-3'))]);
    expect(out).toEqual({ ok: false, reason: 'no replica can be promoted (na: it is fenced; nb: it has transactions the primary does not: 1-9-3)' });
    expect(chooseSwitchoverTarget('mysql', '', [])).toEqual({ ok: false, reason: 'no replica can be promoted' });
  });
  it('a named replica must be a fit replica of the cluster', () => {
    const reps = [r('a', st('0-1-10')), r('b', st('0-1-5', { sqlRunning: false }))];
    expect(chooseSwitchoverTarget('mariadb', '0-1-10', reps, 'nb')).toMatchObject({ ok: false, reason: /nb cannot be promoted: the replica's SQL thread is stopped/ });
    expect(chooseSwitchoverTarget('mariadb', '0-1-10', reps, 'zz')).toEqual({ ok: false, reason: 'zz is not a replica of this cluster' });
    // Named: even a less advanced one, when fit (it is caught up before the cut-over).
    expect(chooseSwitchoverTarget('mariadb', '0-1-10', [r('a', st('0-1-10')), r('b', st('0-1-5'))], 'b')).toEqual({ ok: true, id: 'b', name: 'nb' });
  });
});
