import type { DB } from './db';

// The one lease row managers sharing this store compete for (manager/leader/). The epoch only
// rises: every new holder gets the last epoch + 1, and agents refuse a lower one.
export interface LeaseRow {
  holder: string;
  portalAddress: string;
  registryAddress: string;
  epoch: number;
  expiresAtMs: number;
}

export class LeaderLeaseTable {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      read: db.prepare(`SELECT holder, portal_address AS portalAddress, registry_address AS registryAddress, epoch, expires_at_ms AS expiresAtMs FROM leader_lease WHERE id = 1`),
      put: db.prepare(`
        INSERT INTO leader_lease (id, holder, portal_address, registry_address, epoch, expires_at_ms)
        VALUES (1, @holder, @portalAddress, @registryAddress, @epoch, @expiresAtMs)
        ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, portal_address = excluded.portal_address,
          registry_address = excluded.registry_address, epoch = excluded.epoch, expires_at_ms = excluded.expires_at_ms`),
    };
  }

  read(): LeaseRow | undefined {
    return this.q.read.get() as LeaseRow | undefined;
  }

  // Reads the row, lets `decide` (pure) say what it becomes, and writes that, in one IMMEDIATE
  // transaction: two managers deciding at once are serialized by SQLite's write lock.
  update(decide: (cur: LeaseRow | undefined) => LeaseRow | undefined): { before: LeaseRow | undefined; after: LeaseRow | undefined } {
    return this.db
      .transaction(() => {
        const before = this.read();
        const after = decide(before);
        if (after) this.q.put.run(after);
        return { before, after };
      })
      .immediate();
  }
}
