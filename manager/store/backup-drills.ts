import type { DB } from './db';

// Restore drills (issue 20 item 6): each one's backup, outcome, measured restore time and what
// its checks found. `target`: 'instance:<name>' or 'cluster:<name>', as policies name them.
export type DrillOutcome = 'running' | 'verified' | 'failed';

export interface DrillRow {
  id: string;
  target: string;
  backupId: string;
  restoredName: string;
  operationId: string;
  outcome: DrillOutcome;
  restoreSeconds: number;
  tables: number;
  // JSON: what the checks found (tables, counts, checksums, comparisons).
  checks: string;
  message: string;
  startedAt: string;
  endedAt: string;
}

const COLUMNS = `id, target, backup_id AS backupId, restored_name AS restoredName, operation_id AS operationId, outcome, restore_seconds AS restoreSeconds,
  tables, checks, message, started_at AS startedAt, ended_at AS endedAt`;

const SETTABLE: Record<string, string> = {
  restoredName: 'restored_name', operationId: 'operation_id', outcome: 'outcome', restoreSeconds: 'restore_seconds', tables: 'tables', checks: 'checks', message: 'message', endedAt: 'ended_at',
};

export class BackupDrillsTable {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      insert: db.prepare(`INSERT INTO backup_drills (id, target, backup_id, restored_name, operation_id, outcome, restore_seconds, tables, checks, message, started_at, ended_at)
        VALUES (@id, @target, @backupId, @restoredName, @operationId, @outcome, @restoreSeconds, @tables, @checks, @message, @startedAt, @endedAt)`),
      get: db.prepare(`SELECT ${COLUMNS} FROM backup_drills WHERE id = ?`),
      byTarget: db.prepare(`SELECT ${COLUMNS} FROM backup_drills WHERE target = ? ORDER BY started_at DESC, id LIMIT ?`),
      lastVerified: db.prepare(`SELECT ${COLUMNS} FROM backup_drills WHERE target = ? AND outcome = 'verified' ORDER BY started_at DESC LIMIT 1`),
      targets: db.prepare('SELECT DISTINCT target FROM backup_drills ORDER BY target'),
      running: db.prepare(`SELECT ${COLUMNS} FROM backup_drills WHERE outcome = 'running'`),
    };
  }

  insert(r: Pick<DrillRow, 'id' | 'target' | 'backupId' | 'startedAt'> & Partial<DrillRow>): DrillRow {
    const row: DrillRow = { restoredName: '', operationId: '', outcome: 'running', restoreSeconds: 0, tables: 0, checks: '{}', message: '', endedAt: '', ...r };
    this.q.insert.run(row);
    return row;
  }

  get(id: string): DrillRow | undefined {
    return this.q.get.get(id) as DrillRow | undefined;
  }

  update(id: string, patch: Partial<Omit<DrillRow, 'id' | 'target' | 'backupId' | 'startedAt'>>): void {
    const keys = Object.keys(patch).filter((k) => SETTABLE[k]);
    if (!keys.length) return;
    this.db.prepare(`UPDATE backup_drills SET ${keys.map((k) => `${SETTABLE[k]} = @${k}`).join(', ')} WHERE id = @id`).run({ ...patch, id });
  }

  // Newest first.
  forTarget(target: string, limit: number): DrillRow[] {
    return this.q.byTarget.all(target, limit) as DrillRow[];
  }

  lastVerified(target: string): DrillRow | undefined {
    return this.q.lastVerified.get(target) as DrillRow | undefined;
  }

  targets(): string[] {
    return (this.q.targets.all() as { target: string }[]).map((r) => r.target);
  }

  running(): DrillRow[] {
    return this.q.running.all() as DrillRow[];
  }
}
