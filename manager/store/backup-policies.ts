import type { DB } from './db';
import { nowIso } from './db';

// Backup policies (issue 20 item 4): per instance, per cluster, or the fleet's default.
export type PolicyScope = 'fleet' | 'cluster' | 'instance';

export interface BackupPolicyRow {
  scope: PolicyScope;
  // '' for the fleet's default.
  name: string;
  // Cron (5 or 6 fields, UTC).
  schedule: string;
  // Each instance starts at fire + a stable offset in [0, spread) (src/backup/schedule.ts).
  spreadSeconds: number;
  keepFull: number;
  keepDays: number;
  repository: string;
  // Restore drills' cron; '' none.
  drillSchedule: string;
  // Drills roll the restored backup forward to a random second between its completion and the
  // drill's start (the on-demand point-in-time restore).
  drillPointInTime: boolean;
  // MariaDB: every full_every-th scheduled backup is full, the others incremental (0, 1: all full).
  fullEvery: number;
  createdAt: string;
  updatedAt: string;
}

export type NewBackupPolicy = Omit<BackupPolicyRow, 'createdAt' | 'updatedAt' | 'fullEvery'> & { fullEvery?: number };

const COLUMNS = `scope, name, schedule, spread_seconds AS spreadSeconds, keep_full AS keepFull, keep_days AS keepDays, repository,
  drill_schedule AS drillSchedule, drill_point_in_time AS drillPointInTime, full_every AS fullEvery, created_at AS createdAt, updated_at AS updatedAt`;

export class BackupPoliciesTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      upsert: db.prepare(`INSERT INTO backup_policies (scope, name, schedule, spread_seconds, keep_full, keep_days, repository, drill_schedule, drill_point_in_time, full_every, created_at, updated_at)
        VALUES (@scope, @name, @schedule, @spreadSeconds, @keepFull, @keepDays, @repository, @drillSchedule, @pit, @fullEvery, @now, @now)
        ON CONFLICT (scope, name) DO UPDATE SET schedule = @schedule, spread_seconds = @spreadSeconds, keep_full = @keepFull, keep_days = @keepDays,
          repository = @repository, drill_schedule = @drillSchedule, drill_point_in_time = @pit, full_every = @fullEvery, updated_at = @now`),
      get: db.prepare(`SELECT ${COLUMNS} FROM backup_policies WHERE scope = ? AND name = ?`),
      all: db.prepare(`SELECT ${COLUMNS} FROM backup_policies ORDER BY scope, name`),
      remove: db.prepare('DELETE FROM backup_policies WHERE scope = ? AND name = ?'),
    };
  }

  // Creates or replaces; a replaced policy keeps its creation time (its schedule's start).
  set(p: NewBackupPolicy): BackupPolicyRow {
    this.q.upsert.run({ ...p, pit: p.drillPointInTime ? 1 : 0, fullEvery: p.fullEvery ?? 0, now: nowIso() });
    return this.get(p.scope, p.name)!;
  }

  get(scope: PolicyScope, name: string): BackupPolicyRow | undefined {
    const r = this.q.get.get(scope, name) as BackupPolicyRow | undefined;
    return r && { ...r, drillPointInTime: !!r.drillPointInTime };
  }

  list(): BackupPolicyRow[] {
    return (this.q.all.all() as BackupPolicyRow[]).map((r) => ({ ...r, drillPointInTime: !!r.drillPointInTime }));
  }

  remove(scope: PolicyScope, name: string): boolean {
    return this.q.remove.run(scope, name).changes > 0;
  }
}
