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

  constructor(db: DB) {
    this.q = {
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
}
