import { describe, expect, it } from 'vitest';
import type { BackupPolicyRow } from '../store/backup-policies';
import { decide, effectivePolicy, wantIncremental, type TargetView } from './plan';

const NOW = Date.parse('2026-12-08T12:00:00Z');
const policy = (over: Partial<BackupPolicyRow> = {}): BackupPolicyRow => ({
  scope: 'fleet', name: '', schedule: '0 2 * * *', spreadSeconds: 3600, keepFull: 0, keepDays: 0, repository: '', drillSchedule: '', drillPointInTime: false, fullEvery: 0, createdAt: '2026-12-01T00:00:00.000Z', updatedAt: '', ...over,
});
const t = (name: string) => ({ kind: 'instance' as const, name, instanceId: `i-${name}` });
const b = (id: string, hoursAgo: number, status = 'complete') => {
  const at = new Date(NOW - hoursAgo * 3600_000).toISOString();
  return { id, status, method: 'clone', completedAt: status === 'complete' ? at : '', createdAt: at };
};
const view = (over: Partial<TargetView> = {}): TargetView => ({ target: t('orders'), policy: policy(), backups: [], lastDrillStartedAt: '', drillRunning: false, ...over });

describe('backup plan', () => {
  it('takes the instance policy over the cluster and fleet ones', () => {
    const ps = [policy(), policy({ scope: 'instance', name: 'orders', schedule: '0 3 * * *' }), policy({ scope: 'cluster', name: 'pay', schedule: '0 4 * * *' })];
    expect(effectivePolicy(t('orders'), ps)?.schedule).toBe('0 3 * * *');
    expect(effectivePolicy(t('other'), ps)?.schedule).toBe('0 2 * * *');
    expect(effectivePolicy({ kind: 'cluster', name: 'pay', instanceId: 'i-p' }, ps)?.schedule).toBe('0 4 * * *');
    expect(effectivePolicy(t('x'), [])).toBeUndefined();
  });

  it('backs up a target whose slot passed since its last backup, not one taken since, not one running', () => {
    expect(decide([view({ backups: [b('b1', 30)] })], NOW, new Set(), 1).backups).toHaveLength(1);
    expect(decide([view({ backups: [b('b1', 1)] })], NOW, new Set(), 1).backups).toHaveLength(0);
    expect(decide([view({ backups: [b('b1', 0.1, 'running'), b('b0', 30)] })], NOW, new Set(), 1).backups).toHaveLength(0);
  });

  it('drills the latest complete backup when the drill slot passed, within the drill slots', () => {
    const v = view({ policy: policy({ drillSchedule: '0 * * * *', spreadSeconds: 0 }), backups: [b('b2', 0.2, 'running'), b('b1', 5)] });
    expect(decide([v], NOW, new Set(), 1).drills).toEqual([{ target: v.target, backupId: 'b1', pointInTime: false }]);
    expect(decide([v], NOW, new Set(), 0).drills).toEqual([]);
    expect(decide([{ ...v, drillRunning: true }], NOW, new Set(), 1).drills).toEqual([]);
    expect(decide([{ ...v, lastDrillStartedAt: new Date(NOW).toISOString() }], NOW, new Set(), 1).drills).toEqual([]);
    expect(decide([{ ...v, backups: [b('b2', 0.2, 'failed')] }], NOW, new Set(), 1).drills).toEqual([]);
  });

  it('applies retention per target, sparing what a drill reads', () => {
    const v = view({ policy: policy({ keepFull: 1 }), backups: [b('b3', 1), b('b2', 25), b('b1', 49)] });
    expect(decide([v], NOW, new Set(), 1).retention[0]!.decision.delete.map((x) => x.id)).toEqual(['b2', 'b1']);
    expect(decide([v], NOW, new Set(['b1']), 1).retention[0]!.decision.delete.map((x) => x.id)).toEqual(['b2']);
  });

  it('full_every N: a full backup, then N-1 incrementals on it, MariaDB only', () => {
    const full = (id: string, h: number, status = 'complete') => ({ ...b(id, h, status), method: 'mariabackup', parentId: '' });
    const inc = (id: string, h: number, parentId: string, status = 'complete') => ({ ...b(id, h, status), method: 'mariabackup', parentId });
    const v = (backups: TargetView['backups'], fullEvery = 3, flavor = 'mariadb') => ({ policy: policy({ fullEvery }), backups, flavor });
    expect(wantIncremental(v([]))).toBe(false);
    expect(wantIncremental(v([full('f', 3)]))).toBe(true);
    expect(wantIncremental(v([inc('i1', 2, 'f'), full('f', 3)]))).toBe(true);
    expect(wantIncremental(v([inc('i2', 1, 'i1'), inc('i1', 2, 'f'), full('f', 3)]))).toBe(false);
    // A failed incremental does not count; a running one is not complete either.
    expect(wantIncremental(v([inc('x', 0.5, 'i1', 'failed'), inc('i1', 2, 'f'), full('f', 3)]))).toBe(true);
    expect(wantIncremental(v([full('f', 3)], 1))).toBe(false);
    expect(wantIncremental(v([full('f', 3)], 0))).toBe(false);
    expect(wantIncremental(v([full('f', 3)], 3, 'mysql'))).toBe(false);
    // decide() marks the due backup incremental.
    const due = view({ policy: policy({ fullEvery: 2, schedule: '* * * * *', spreadSeconds: 0 }), backups: [full('f', 30)], flavor: 'mariadb' });
    expect(decide([due], NOW, new Set(), 1).backups).toEqual([{ ...t('orders'), incremental: true }]);
  });
});
