import type { DB } from './db';
import { nowIso } from './db';

// A client's idempotency key: the first mutating call a caller made with it, and what it did.
export interface RequestRow {
  // Who called (the portal principal: "cert:alice", "token:ci", "insecure"): ids are per caller,
  // so one caller's id never answers, or blocks, another's request.
  caller: string;
  id: string;
  method: string;
  // sha256 of the request's fields (all but request_id): the same id with another request is refused.
  fingerprint: string;
  instanceId: string;
  operationId: string;
  // The answer, as JSON, for a call that made no operation (cordon, a token's name and hash).
  result: string;
  createdAt: string;
}

// Request ids of every mutating portal RPC. Where a call records an operation the row is written
// in the same transaction (the engine's record, or a create's reservation), so after a crash
// either both are there or neither is, and a retry finds out which. The table is made by the
// numbered migrations (store/db.ts); `requests` (ids without a caller, CreateInstance and
// DeleteInstance only, made by an older release outside them) is folded in once, under the
// caller "".
export class RequestsTable {
  private readonly q;

  constructor(db: DB) {
    const legacy = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'requests'").get();
    if (legacy) {
      db.transaction(() => {
        db.exec(`INSERT OR IGNORE INTO request_ids (caller, id, method, fingerprint, instance_id, operation_id, created_at)
          SELECT '', id, method, fingerprint, instance_id, operation_id, created_at FROM requests; DROP TABLE requests;`);
      })();
    }
    const cols = "caller, id, method, fingerprint, instance_id AS instanceId, operation_id AS operationId, result, created_at AS createdAt";
    this.q = {
      get: db.prepare(`SELECT ${cols} FROM request_ids WHERE caller = ? AND id = ?`),
      insert: db.prepare('INSERT INTO request_ids (caller, id, method, fingerprint, instance_id, operation_id, result, created_at) VALUES (@caller, @id, @method, @fingerprint, @instanceId, @operationId, @result, @createdAt)'),
      purge: db.prepare('DELETE FROM request_ids WHERE created_at < ?'),
      setResult: db.prepare('UPDATE request_ids SET result = ? WHERE caller = ? AND id = ?'),
    };
  }

  get(caller: string, id: string): RequestRow | undefined {
    return this.q.get.get(caller, id) as RequestRow | undefined;
  }

  insert(r: Omit<RequestRow, 'createdAt' | 'instanceId' | 'operationId' | 'result'> & Partial<Pick<RequestRow, 'instanceId' | 'operationId' | 'result'>>): void {
    this.q.insert.run({ instanceId: '', operationId: '', result: '', ...r, createdAt: nowIso() });
  }

  setResult(caller: string, id: string, result: string): void {
    this.q.setResult.run(result, caller, id);
  }

  // Kept as long as events and operations (--retention-days).
  purge(olderThanMs: number, now = Date.now()): number {
    return this.q.purge.run(new Date(now - olderThanMs).toISOString()).changes;
  }
}
