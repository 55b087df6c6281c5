import type { DB } from './db';
import { nowIso } from './db';

// A data directory berth moved to a disk's trash instead of deleting it (migration 8).
export interface DiscardedRow {
  id: number;
  instanceId: string;
  instanceName: string;
  cluster: string;
  node: string;
  // On that node: <disk>/berth/.trash/<id>-<ms>, with data/, conf/my.cnf and the binlogs in data/.
  path: string;
  flavor: string;
  image: string;
  // Transactions it held that the server that stayed lacks ('' none); -1: it could not be read.
  unseenGtids: string;
  unseenCount: number;
  reason: string;
  operationId: string;
  at: string;
}

export type NewDiscarded = Omit<DiscardedRow, 'id' | 'at'>;

const COLUMNS = `id, instance_id AS instanceId, instance_name AS instanceName, cluster, node, path, flavor, image, unseen_gtids AS unseenGtids, unseen_count AS unseenCount, reason, operation_id AS operationId, at`;

export class DiscardedTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      add: db.prepare(`INSERT INTO discarded_data (instance_id, instance_name, cluster, node, path, flavor, image, unseen_gtids, unseen_count, reason, operation_id, at)
        VALUES (@instanceId, @instanceName, @cluster, @node, @path, @flavor, @image, @unseenGtids, @unseenCount, @reason, @operationId, @at)`),
      all: db.prepare(`SELECT ${COLUMNS} FROM discarded_data ORDER BY id DESC LIMIT ?`),
      byName: db.prepare(`SELECT ${COLUMNS} FROM discarded_data WHERE instance_name = ? ORDER BY id DESC LIMIT ?`),
    };
  }

  add(r: NewDiscarded): number {
    return Number(this.q.add.run({ ...r, at: nowIso() }).lastInsertRowid);
  }

  // Newest first; `instanceName` '' for all.
  list(instanceName: string, limit: number): DiscardedRow[] {
    return (instanceName ? this.q.byName.all(instanceName, limit) : this.q.all.all(limit)) as DiscardedRow[];
  }
}
