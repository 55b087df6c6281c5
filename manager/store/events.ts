import type { DB } from './db';
import { nowIso } from './db';

export interface EventRow {
  id: number;
  at: string;
  kind: string;
  subject: string;
  message: string;
}

// An append-only history a DBA can read after the fact: what happened to which node or instance.
export class EventsTable {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      countKind: db.prepare('SELECT COUNT(*) AS n FROM events WHERE kind = ?'),
      add: db.prepare('INSERT INTO events (at, kind, subject, message) VALUES (?, ?, ?, ?)'),
      recent: db.prepare('SELECT id, at, kind, subject, message FROM events ORDER BY id DESC LIMIT ?'),
      forSubject: db.prepare('SELECT id, at, kind, subject, message FROM events WHERE subject = ? ORDER BY id DESC LIMIT ?'),
    };
  }

  add(kind: string, subject: string, message: string): void {
    this.q.add.run(nowIso(), kind, subject, message);
  }

  recent(limit = 100, subject?: string): EventRow[] {
    return (subject ? this.q.forSubject.all(subject, limit) : this.q.recent.all(limit)) as EventRow[];
  }

  // Newest first. `kind` is a prefix ("alert." matches every alert).
  page(q: { subject?: string; kind?: string; after?: number; limit: number; offset: number }): { items: EventRow[]; total: number } {
    const where: string[] = [];
    const args: unknown[] = [];
    if (q.subject) (where.push('subject = ?'), args.push(q.subject));
    if (q.kind) (where.push("kind LIKE ? ESCAPE '\\'"), args.push(`${q.kind.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
    if (q.after !== undefined) (where.push('id > ?'), args.push(q.after));
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM events ${w}`).get(...args) as { n: number }).n;
    const items = this.db.prepare(`SELECT id, at, kind, subject, message FROM events ${w} ORDER BY id DESC LIMIT ? OFFSET ?`).all(...args, q.limit, q.offset) as EventRow[];
    return { items, total };
  }

  // Oldest first, after an id: what a watcher has not seen yet. `kind` is a prefix.
  after(id: number, q: { subject?: string; kind?: string }, limit: number): EventRow[] {
    const args: unknown[] = [id];
    let w = 'id > ?';
    if (q.subject) (w += ' AND subject = ?'), args.push(q.subject);
    if (q.kind) (w += " AND kind LIKE ? ESCAPE '\\'"), args.push(`${q.kind.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    return this.db.prepare(`SELECT id, at, kind, subject, message FROM events WHERE ${w} ORDER BY id LIMIT ?`).all(...args, limit) as EventRow[];
  }

  lastId(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(id), 0) AS n FROM events').get() as { n: number }).n;
  }

  countOfKind(kind: string): number {
    return (this.q.countKind.get(kind) as { n: number }).n;
  }
}
