import type { DB } from './db';
import { nowIso } from './db';

// The catalog of backups (migration 11). running → complete (the manifest is in the repository)
// or failed; a failed or interrupted backup is never restorable.
export type BackupStatus = 'running' | 'complete' | 'failed' | 'deleting';

export interface BackupRow {
  id: string;
  instanceId: string;
  instanceName: string;
  cluster: string;
  flavor: string;
  sourceInstance: string;
  sourceNode: string;
  method: string;
  repository: string;
  status: BackupStatus;
  storedBytes: number;
  dataBytes: number;
  gtid: string;
  operationId: string;
  message: string;
  createdAt: string;
  completedAt: string;
  // An incremental's parent backup ('' for a full one) and mariabackup's LSN range ('' unknown).
  parentId: string;
  fromLsn: string;
  toLsn: string;
}

export type NewBackup = Pick<BackupRow, 'id' | 'instanceId' | 'instanceName' | 'cluster' | 'flavor' | 'repository' | 'operationId'> & Partial<BackupRow>;

const COLUMNS = `id, instance_id AS instanceId, instance_name AS instanceName, cluster, flavor, source_instance AS sourceInstance, source_node AS sourceNode, method,
  repository, status, stored_bytes AS storedBytes, data_bytes AS dataBytes, gtid, operation_id AS operationId, message, created_at AS createdAt, completed_at AS completedAt,
  parent_id AS parentId, from_lsn AS fromLsn, to_lsn AS toLsn`;

const SETTABLE: Record<string, string> = {
  status: 'status', sourceInstance: 'source_instance', sourceNode: 'source_node', method: 'method', storedBytes: 'stored_bytes', dataBytes: 'data_bytes',
  gtid: 'gtid', message: 'message', completedAt: 'completed_at', flavor: 'flavor', fromLsn: 'from_lsn', toLsn: 'to_lsn',
};

export class BackupsTable {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      insert: db.prepare(`INSERT INTO backups (id, instance_id, instance_name, cluster, flavor, source_instance, source_node, method, repository, status, stored_bytes, data_bytes, gtid, operation_id, message, created_at, completed_at, parent_id, from_lsn, to_lsn)
        VALUES (@id, @instanceId, @instanceName, @cluster, @flavor, @sourceInstance, @sourceNode, @method, @repository, @status, @storedBytes, @dataBytes, @gtid, @operationId, @message, @createdAt, @completedAt, @parentId, @fromLsn, @toLsn)`),
      get: db.prepare(`SELECT ${COLUMNS} FROM backups WHERE id = ?`),
      all: db.prepare(`SELECT ${COLUMNS} FROM backups ORDER BY created_at DESC, id LIMIT ?`),
      byName: db.prepare(`SELECT ${COLUMNS} FROM backups WHERE instance_name = ? ORDER BY created_at DESC, id LIMIT ?`),
      byCluster: db.prepare(`SELECT ${COLUMNS} FROM backups WHERE cluster = ? ORDER BY created_at DESC, id LIMIT ?`),
      remove: db.prepare('DELETE FROM backups WHERE id = ?'),
      children: db.prepare(`SELECT ${COLUMNS} FROM backups WHERE parent_id = ? AND status != 'failed' ORDER BY created_at, id`),
      usage: db.prepare(`SELECT count(*) AS count, coalesce(sum(stored_bytes), 0) AS bytes FROM backups WHERE status = 'complete'`),
    };
  }

  insert(b: NewBackup): BackupRow {
    const row: BackupRow = {
      sourceInstance: '', sourceNode: '', method: '', status: 'running', storedBytes: 0, dataBytes: 0, gtid: '', message: '', createdAt: nowIso(), completedAt: '',
      parentId: '', fromLsn: '', toLsn: '',
      ...b,
    };
    this.q.insert.run(row);
    return row;
  }

  get(id: string): BackupRow | undefined {
    return this.q.get.get(id) as BackupRow | undefined;
  }

  // Newest first; instanceName '' for all.
  list(instanceName: string, limit: number): BackupRow[] {
    return (instanceName ? this.q.byName.all(instanceName, limit) : this.q.all.all(limit)) as BackupRow[];
  }

  // Complete backups and the bytes they hold in the repository (the capacity report).
  usage(): { count: number; bytes: number } {
    return this.q.usage.get() as { count: number; bytes: number };
  }

  // A cluster's backups (whichever member each was asked of), newest first.
  listCluster(cluster: string, limit: number): BackupRow[] {
    return this.q.byCluster.all(cluster, limit) as BackupRow[];
  }

  update(id: string, patch: Partial<Omit<BackupRow, 'id' | 'instanceId' | 'instanceName' | 'repository' | 'operationId' | 'createdAt'>>): void {
    const keys = Object.keys(patch).filter((k) => SETTABLE[k]);
    if (!keys.length) return;
    this.db.prepare(`UPDATE backups SET ${keys.map((k) => `${SETTABLE[k]} = @${k}`).join(', ')} WHERE id = @id`).run({ ...patch, id });
  }

  // The backups that build on this one (incrementals whose parent it is), failed ones aside.
  children(id: string): BackupRow[] {
    return this.q.children.all(id) as BackupRow[];
  }

  remove(id: string): void {
    this.q.remove.run(id);
  }
}
