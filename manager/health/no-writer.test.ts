import { describe, expect, it } from 'vitest';
import { explainNoWriter, type WriterObservation } from './no-writer';

const base: WriterObservation = { cluster: 'orders', primary: { name: 'orders-1' }, report: { mysqldUp: true, readOnly: false, leaseFenced: false }, agentSilentSinceMs: 0 };

describe('explainNoWriter', () => {
  it('a primary that answers and takes writes is no problem', () => {
    expect(explainNoWriter(base)).toEqual({ writable: true });
  });

  it('a failover blocked by the anti-flap rule names the rule, since when, and ack-failover', () => {
    const v = explainNoWriter({
      ...base,
      report: undefined,
      agentSilentSinceMs: 1000,
      verdict: { state: 'dead', reason: 'agent silent, probe failing' },
      blocked: { reason: 'a failover 12 s ago is not acknowledged', sinceMs: Date.UTC(2026, 11, 7, 10, 0, 0) },
    });
    expect(v).toMatchObject({ writable: false, action: 'berthctl cluster ack-failover orders runs the failover now' });
    expect(v.writable === false && v.reason).toContain('blocked by the anti-flap rule since 2026-12-07T10:00:00.000Z');
    expect(v.writable === false && v.reason).toContain('agent silent, probe failing');
  });

  it('a stuck operation comes first, with the retry command', () => {
    const v = explainNoWriter({ ...base, report: undefined, holder: { id: 'op-1', type: 'cluster-failover', state: 'stuck', step: 'repoint', error: 'agent unreachable' } });
    expect(v).toEqual({ writable: false, reason: 'operation op-1 (cluster-failover) is stuck at step repoint: agent unreachable', action: 'fix the cause, then berthctl operation retry op-1' });
  });

  it('a primary fenced by its lease while cut off', () => {
    const v = explainNoWriter({ ...base, report: { mysqldUp: true, readOnly: true, leaseFenced: true }, agentSilentSinceMs: 5000 });
    expect(v.writable === false && v.reason).toMatch(/cut off: its agent has been silent since .* its write lease makes it read-only/);
  });

  it('a read-only primary, a dead one, and none at all', () => {
    expect(explainNoWriter({ ...base, report: { mysqldUp: true, readOnly: true, leaseFenced: false } })).toMatchObject({ writable: false, reason: 'primary orders-1 is read-only' });
    expect(explainNoWriter({ ...base, report: { mysqldUp: false, readOnly: false, leaseFenced: false }, verdict: { state: 'suspect', reason: 'mysqld down 2 s' } })).toMatchObject({ writable: false, reason: 'primary orders-1 does not answer (mysqld down 2 s)' });
    expect(explainNoWriter({ ...base, primary: undefined, report: undefined })).toMatchObject({ writable: false, reason: 'no member is the primary' });
  });

  it('an operation at work (a failover promoting) says so', () => {
    const v = explainNoWriter({ ...base, report: undefined, holder: { id: 'op-2', type: 'cluster-failover', state: 'running', step: 'promote', error: '' } });
    expect(v).toMatchObject({ writable: false, reason: 'operation op-2 (cluster-failover) holds the cluster, at step promote' });
  });
});
