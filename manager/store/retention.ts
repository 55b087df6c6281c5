import type { DB } from './db';

// Events and ended operations (with their steps and subjects, by ON DELETE CASCADE) older than
// the retention period are deleted; credential-read audit events are kept like the others.
// The purge reads indexes (events_at, operations_finished: a migration in db.ts) rather than
// scanning the tables.
export class Retention {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      events: db.prepare('DELETE FROM events WHERE at < ?'),
      // A child of a kept parent, or any operation still running, is never removed.
      operations: db.prepare(`DELETE FROM operations WHERE finished_at != '' AND finished_at < ?
        AND state IN ('succeeded', 'failed') AND id NOT IN (SELECT parent_id FROM operations WHERE parent_id != '' AND finished_at = '')`),
    };
  }

  purge(olderThanMs: number, now = Date.now()): { events: number; operations: number } {
    const cutoff = new Date(now - olderThanMs).toISOString();
    return { events: this.q.events.run(cutoff).changes, operations: this.q.operations.run(cutoff).changes };
  }
}
