import { describe, expect, it } from 'vitest';
import { Store } from './index';

describe('backup policies and drills', () => {
  it('sets, replaces (keeping the creation time), lists and removes policies', () => {
    const s = Store.open(':memory:');
    const p = { scope: 'instance' as const, name: 'orders', schedule: '0 2 * * *', spreadSeconds: 3600, keepFull: 7, keepDays: 0, repository: 'dir:/r', drillSchedule: '', drillPointInTime: false };
    const a = s.backupPolicies.set(p);
    const b = s.backupPolicies.set({ ...p, keepFull: 3, drillSchedule: '0 4 * * 0' });
    expect(b).toMatchObject({ keepFull: 3, drillSchedule: '0 4 * * 0', createdAt: a.createdAt });
    s.backupPolicies.set({ ...p, scope: 'fleet', name: '' });
    expect(s.backupPolicies.list().map((x) => `${x.scope}:${x.name}`)).toEqual(['fleet:', 'instance:orders']);
    expect(s.backupPolicies.remove('instance', 'orders')).toBe(true);
    expect(s.backupPolicies.remove('instance', 'orders')).toBe(false);
  });

  it('records drills newest first and the last verified one', () => {
    const s = Store.open(':memory:');
    s.backupDrills.insert({ id: 'd1', target: 'instance:orders', backupId: 'b1', startedAt: '2026-12-07T10:00:00.000Z' });
    s.backupDrills.update('d1', { outcome: 'verified', restoreSeconds: 4.2, tables: 3 });
    s.backupDrills.insert({ id: 'd2', target: 'instance:orders', backupId: 'b2', startedAt: '2026-12-07T11:00:00.000Z' });
    s.backupDrills.update('d2', { outcome: 'failed', message: 'flipped byte' });
    expect(s.backupDrills.forTarget('instance:orders', 5).map((d) => d.id)).toEqual(['d2', 'd1']);
    expect(s.backupDrills.lastVerified('instance:orders')).toMatchObject({ id: 'd1', restoreSeconds: 4.2 });
    expect(s.backupDrills.targets()).toEqual(['instance:orders']);
    expect(s.backupDrills.running()).toEqual([]);
  });
});
