import { nowIso, type DB } from './db';

export interface RevokedRow {
  id: number;
  serial: string;
  kind: string;
  name: string;
  issuedBeforeMs: number;
  revokedAt: string;
  revokedBy: string;
  reason: string;
}

const COLUMNS = 'id, serial, kind, name, issued_before_ms AS issuedBeforeMs, revoked_at AS revokedAt, revoked_by AS revokedBy, reason';

// Revoked certificates (see src/tls/revocation.ts for what an entry means). Rows are never
// deleted: a revocation outlives the certificate's own expiry only by a few bytes.
export class RevocationsTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      all: db.prepare(`SELECT ${COLUMNS} FROM revoked_certs ORDER BY id`),
      bySerial: db.prepare(`SELECT ${COLUMNS} FROM revoked_certs WHERE serial = ?`),
      insert: db.prepare(`INSERT INTO revoked_certs (serial, kind, name, issued_before_ms, revoked_at, revoked_by, reason)
        VALUES (@serial, @kind, @name, @issuedBeforeMs, @revokedAt, @revokedBy, @reason) RETURNING ${COLUMNS}`),
      version: db.prepare('SELECT COALESCE(MAX(id), 0) AS v FROM revoked_certs'),
    };
  }

  all(): RevokedRow[] {
    return this.q.all.all() as RevokedRow[];
  }

  bySerial(serial: string): RevokedRow | undefined {
    return this.q.bySerial.get(serial) as RevokedRow | undefined;
  }

  add(r: Omit<RevokedRow, 'id' | 'revokedAt'>): RevokedRow {
    return this.q.insert.get({ ...r, revokedAt: nowIso() }) as RevokedRow;
  }

  version(): number {
    return (this.q.version.get() as { v: number }).v;
  }
}
