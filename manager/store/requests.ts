import type { DB } from './db';
import { nowIso } from './db';

// A client's idempotency key: the first mutating call made with it, and what it did.
export interface RequestRow {
  id: string;
  method: string;
  // sha256 of the request's meaningful fields: the same key with another request is refused.
  fingerprint: string;
  instanceId: string;
  operationId: string;
  createdAt: string;
}

// Request ids (CreateInstance, DeleteInstance request_id). The row is written in the same
// transaction as what the request did (the reservation, the delete operation), so after a crash
// either both are there or neither is, and a retry finds out which. Made here with IF NOT EXISTS,
// outside the numbered migrations, like the retention indexes.
export class RequestsTable {
  private readonly q;

  constructor(db: DB) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS requests (
        id TEXT PRIMARY KEY,
        method TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        instance_id TEXT NOT NULL,
        operation_id TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS requests_created ON requests(created_at);
    `);
    this.q = {
      get: db.prepare('SELECT id, method, fingerprint, instance_id AS instanceId, operation_id AS operationId, created_at AS createdAt FROM requests WHERE id = ?'),
      insert: db.prepare('INSERT INTO requests (id, method, fingerprint, instance_id, operation_id, created_at) VALUES (@id, @method, @fingerprint, @instanceId, @operationId, @createdAt)'),
      purge: db.prepare('DELETE FROM requests WHERE created_at < ?'),
    };
  }

  get(id: string): RequestRow | undefined {
    return this.q.get.get(id) as RequestRow | undefined;
  }

  insert(r: Omit<RequestRow, 'createdAt'>): void {
    this.q.insert.run({ ...r, createdAt: nowIso() });
  }

  // Kept as long as events and operations (--retention-days).
  purge(olderThanMs: number, now = Date.now()): number {
    return this.q.purge.run(new Date(now - olderThanMs).toISOString()).changes;
  }
}
