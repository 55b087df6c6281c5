import type { DB } from './db';

// A cluster member's identity and executed GTID set as last read while its mysqld answered
// (health/reconciler.ts keeps the live copy; this one outlives a manager restart).
export interface LastSeenRow {
  instanceId: string;
  serverUuid: string;
  serverId: number;
  executedGtids: string;
  // Its cluster role when written: a promotion is written at once (health/last-seen.ts).
  role: string;
  seenAtMs: number;
}

export class LastSeenTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      all: db.prepare(`SELECT instance_id AS instanceId, server_uuid AS serverUuid, server_id AS serverId, executed_gtids AS executedGtids, role, seen_at_ms AS seenAtMs FROM instance_last_seen`),
      // Only for an instance that still exists: the write is group-committed a turn later and
      // the instance may have been deleted meanwhile.
      put: db.prepare(`
        INSERT INTO instance_last_seen (instance_id, server_uuid, server_id, executed_gtids, role, seen_at_ms)
        SELECT @instanceId, @serverUuid, @serverId, @executedGtids, @role, @seenAtMs WHERE EXISTS (SELECT 1 FROM instances WHERE id = @instanceId)
        ON CONFLICT(instance_id) DO UPDATE SET server_uuid = excluded.server_uuid, server_id = excluded.server_id,
          executed_gtids = excluded.executed_gtids, role = excluded.role, seen_at_ms = excluded.seen_at_ms`),
      forget: db.prepare('DELETE FROM instance_last_seen WHERE instance_id = ?'),
      // Its own column: the reconciler's put never overwrites it.
      promote: db.prepare(`
        INSERT INTO instance_last_seen (instance_id, promoted_gtids, seen_at_ms)
        SELECT @instanceId, @gtids, 0 WHERE EXISTS (SELECT 1 FROM instances WHERE id = @instanceId)
        ON CONFLICT(instance_id) DO UPDATE SET promoted_gtids = excluded.promoted_gtids`),
      promoted: db.prepare('SELECT promoted_gtids AS g FROM instance_last_seen WHERE instance_id = ?'),
    };
  }

  all(): LastSeenRow[] {
    return this.q.all.all() as LastSeenRow[];
  }

  put(r: LastSeenRow): void {
    this.q.put.run(r);
  }

  forget(instanceId: string): void {
    this.q.forget.run(instanceId);
  }

  // The set a member held when it was made the primary ('' to clear it when it stops being one).
  setPromoted(instanceId: string, gtids: string): void {
    this.q.promote.run({ instanceId, gtids });
  }

  promoted(instanceId: string): string {
    return (this.q.promoted.get(instanceId) as { g: string } | undefined)?.g ?? '';
  }
}
