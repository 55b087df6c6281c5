import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { checkClusterName, checkReplication } from './clusters';

const bad = (fn: () => unknown, re: RegExp) => expect(fn).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(re) }));

describe('cluster input at the API edge', () => {
  it('replication defaults to semi-sync with replicas, async without, and a 10 s timeout', () => {
    expect(checkReplication({ replicas: 2, replication: '', semiSyncTimeoutMs: 0 })).toEqual({ replicas: 2, replication: 'semi-sync', semiSyncTimeoutMs: 10_000 });
    expect(checkReplication({ replicas: 0, replication: '', semiSyncTimeoutMs: 0 })).toEqual({ replicas: 0, replication: 'async', semiSyncTimeoutMs: 0 });
    expect(checkReplication({ replicas: 5, replication: 'semi-sync', semiSyncTimeoutMs: 250 })).toMatchObject({ semiSyncTimeoutMs: 250 });
  });

  it('refuses what cannot work', () => {
    bad(() => checkReplication({ replicas: 6, replication: '', semiSyncTimeoutMs: 0 }), /between 0 and 5/);
    bad(() => checkReplication({ replicas: 1.5, replication: '', semiSyncTimeoutMs: 0 }), /between 0 and 5/);
    bad(() => checkReplication({ replicas: 1, replication: 'group', semiSyncTimeoutMs: 0 }), /not one of async, semi-sync/);
    bad(() => checkReplication({ replicas: 0, replication: 'semi-sync', semiSyncTimeoutMs: 0 }), /at least one replica/);
    bad(() => checkReplication({ replicas: 1, replication: 'async', semiSyncTimeoutMs: 500 }), /semi-sync replication only/);
    bad(() => checkReplication({ replicas: 1, replication: 'semi-sync', semiSyncTimeoutMs: 50 }), /out of range/);
    bad(() => checkReplication({ replicas: 1, replication: 'semi-sync', semiSyncTimeoutMs: 3_600_001 }), /out of range/);
  });

  it('cluster names leave room for member names', () => {
    expect(checkClusterName('orders')).toBe('orders');
    bad(() => checkClusterName('a'.repeat(60)), /at most 59 characters/);
    bad(() => checkClusterName('Orders'), /cluster name/);
    bad(() => checkClusterName(''), /required/);
  });
});
