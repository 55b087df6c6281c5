import { CronCache, nextSlotMs } from '../../src/backup/schedule';
import type { BackupHealth } from '../health/alerts/types';
import type { Store } from '../store/index';
import { targetKey, type TargetView } from './plan';

// What `berthctl backup status`, GET /v1/backups/status, the metrics and the alerts show per
// target a policy covers. Built from the scheduler's gathered views.
export interface TargetStatus extends BackupHealth {
  policy: string;
  schedule: string;
  drillSchedule: string;
  lastBackup?: { id: string; status: string; createdAt: string };
  completeBackups: number;
  lastDrillRestoreSeconds: number;
  lastDrillOutcome: string;
  lastDrillAt: string;
  nextBackupAt: string;
  nextDrillAt: string;
}

export function targetStatus(store: Store, views: TargetView[], now: number): TargetStatus[] {
  const cache = new CronCache(now);
  return views.map((v) => {
    const key = targetKey(v.target);
    const drills = store.backupDrills.forTarget(key, 20);
    const ended = drills.find((x) => x.outcome !== 'running');
    const newest = drills[0];
    const spread = v.policy.spreadSeconds * 1000;
    return {
      target: key,
      policy: `${v.policy.scope}:${v.policy.name}`,
      policySince: v.policy.createdAt,
      schedule: v.policy.schedule,
      drillSchedule: v.policy.drillSchedule,
      ...(v.backups[0] ? { lastBackup: { id: v.backups[0].id, status: v.backups[0].status, createdAt: v.backups[0].createdAt } } : {}),
      completeBackups: v.backups.filter((b) => b.status === 'complete').length,
      ...(ended ? { lastDrill: { id: ended.id, backupId: ended.backupId, outcome: ended.outcome, endedAt: ended.endedAt, message: ended.message } } : {}),
      lastDrillOutcome: newest?.outcome ?? '',
      lastDrillAt: newest?.startedAt ?? '',
      lastDrillRestoreSeconds: ended?.restoreSeconds ?? 0,
      lastVerifiedAt: store.backupDrills.lastVerified(key)?.endedAt ?? '',
      nextBackupAt: new Date(nextSlotMs(v.policy.schedule, key, spread, now, cache)).toISOString(),
      nextDrillAt: v.policy.drillSchedule ? new Date(nextSlotMs(v.policy.drillSchedule, `drill:${key}`, spread, now, cache)).toISOString() : '',
    };
  });
}
