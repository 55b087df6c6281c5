import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, type HealthState } from '../types';
import { backupDrillFailed, backupNotVerified } from './backup-drills';

const NOW = Date.parse('2026-12-08T12:00:00Z');
const H = 3600_000;
const iso = (hoursAgo: number) => new Date(NOW - hoursAgo * H).toISOString();
const state = (backups: HealthState['backups'], hours = 24): HealthState => ({ now: NOW, backups, thresholds: { ...DEFAULT_THRESHOLDS, backupVerifiedHours: hours } }) as HealthState;
const drill = (outcome: string, hoursAgo: number) => ({ id: 'd-1', backupId: 'b-1', outcome, endedAt: iso(hoursAgo), message: outcome === 'failed' ? 'object does not match its manifest' : 'ok' });

describe('backup alert rules', () => {
  it('backup_drill_failed fires while the newest drill failed, and not after one verified', () => {
    const f = backupDrillFailed.evaluate(state([{ target: 'instance:orders', policySince: iso(100), lastDrill: drill('failed', 1), lastVerifiedAt: iso(30) }]));
    expect(f).toEqual([expect.objectContaining({ rule: 'backup_drill_failed', subject: 'instance:orders', severity: 'critical', message: expect.stringMatching(/does not match its manifest/) })]);
    expect(backupDrillFailed.evaluate(state([{ target: 'instance:orders', policySince: iso(100), lastDrill: drill('verified', 1), lastVerifiedAt: iso(1) }]))).toEqual([]);
  });

  it('backup_not_verified fires when no drill verified within the threshold, sparing new policies', () => {
    const stale = { target: 'cluster:pay', policySince: iso(100), lastVerifiedAt: iso(30) };
    expect(backupNotVerified.evaluate(state([stale]))).toEqual([expect.objectContaining({ rule: 'backup_not_verified', subject: 'cluster:pay' })]);
    expect(backupNotVerified.evaluate(state([{ ...stale, lastVerifiedAt: '' }]))[0]!.message).toMatch(/never verified/);
    expect(backupNotVerified.evaluate(state([{ ...stale, lastVerifiedAt: iso(2) }]))).toEqual([]);
    expect(backupNotVerified.evaluate(state([{ ...stale, policySince: iso(2), lastVerifiedAt: '' }]))).toEqual([]);
    expect(backupNotVerified.evaluate(state([stale], 0))).toEqual([]);
  });
});
