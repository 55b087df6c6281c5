import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { checkClusterName, checkGroup, checkReplication } from './clusters';

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

  it('a group: 3, 5 or 7 members, single-primary only, consistency and weight checked, defaults filled', () => {
    const g = { replicas: 0, semiSyncTimeoutMs: 0, members: 3, groupMode: '', groupConsistency: '', memberWeight: 0 };
    expect(checkGroup(g)).toEqual({ members: 3, consistency: 'BEFORE_ON_PRIMARY_FAILOVER', memberWeight: 50 });
    expect(checkGroup({ ...g, members: 7, groupMode: 'single-primary', groupConsistency: 'AFTER', memberWeight: 80 })).toEqual({ members: 7, consistency: 'AFTER', memberWeight: 80 });
    bad(() => checkGroup({ ...g, groupMode: 'multi-primary' }), /multi-primary is refused/);
    for (const members of [0, 1, 2, 4, 6, 9]) bad(() => checkGroup({ ...g, members }), /3, 5 or 7 members/);
    bad(() => checkGroup({ ...g, replicas: 2 }), /a group takes members/);
    bad(() => checkGroup({ ...g, semiSyncTimeoutMs: 100 }), /semi-sync replication only/);
    bad(() => checkGroup({ ...g, groupConsistency: 'STRONG' }), /not one of EVENTUAL/);
    bad(() => checkGroup({ ...g, memberWeight: 101 }), /between 0 and 100/);
  });

  it('cluster names leave room for member names', () => {
    expect(checkClusterName('orders')).toBe('orders');
    bad(() => checkClusterName('a'.repeat(60)), /at most 59 characters/);
    bad(() => checkClusterName('Orders'), /cluster name/);
    bad(() => checkClusterName(''), /required/);
  });
});
