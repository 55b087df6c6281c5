import type { DB } from './db';

// Whether an instance's mysqld serves TLS (and requires it), as its agent answered the create.
// A table of its own (store/db.ts): a missing row means no TLS was reported (an instance made
// before, or on a node without a MySQL certificate).
export class InstanceTlsTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      get: db.prepare('SELECT required FROM instance_tls WHERE instance_id = ?'),
      set: db.prepare('INSERT INTO instance_tls (instance_id, required) VALUES (?, ?) ON CONFLICT(instance_id) DO UPDATE SET required = excluded.required'),
      clear: db.prepare('DELETE FROM instance_tls WHERE instance_id = ?'),
    };
  }

  get(id: string): { tls: boolean; required: boolean } {
    const r = this.q.get.get(id) as { required: number } | undefined;
    return { tls: !!r, required: r?.required === 1 };
  }

  set(id: string, t: { tls: boolean; required: boolean }): void {
    if (t.tls) this.q.set.run(id, t.required ? 1 : 0);
    else this.q.clear.run(id);
  }
}
