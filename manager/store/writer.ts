import type { DB } from './db';

interface Pending {
  run: () => unknown;
  undo?: () => void;
  committed?: () => void;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

// Group commit. Writes that arrive while the event loop is busy (a burst of creates, the steps
// of many operations, heartbeats) are run one after another in the next turn, each in its own
// savepoint, inside ONE transaction: one fsync for the lot instead of one each, with
// synchronous=FULL kept. A caller is answered only once the transaction holding its write is
// durable. There is no timer: a lone write is committed in the very next turn, so it waits for
// no company.
//
// A write's run() may also change in-memory state (the scheduler's snapshot) as its last act, so
// that the writes after it in the batch see it; undo() takes that back if the COMMIT fails.
// flush() is synchronous from BEGIN to COMMIT: nothing else in the process runs in between, so
// nobody outside the batch ever sees a change that is then rolled back.
export class GroupWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  // Transactions committed and writes they held, for the benchmarks.
  commits = 0;
  writes = 0;
  // Run right after BEGIN (Store.fence): when it throws, the whole batch is refused with its error.
  guard?: () => void;
  // Prepared once: db.exec() parses its SQL on every call, four times per write.
  private readonly sql;

  constructor(
    private readonly db: DB,
    private readonly maxBatch = 1000,
  ) {
    this.sql = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      savepoint: db.prepare('SAVEPOINT w'),
      release: db.prepare('RELEASE w'),
      rollbackTo: db.prepare('ROLLBACK TO w'),
    };
  }

  // committed() runs once the write is durable, before its caller is answered.
  write<T>(run: () => T, undo?: () => void, committed?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run, undo, committed, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  flush(): void {
    const batch = this.queue.splice(0, this.maxBatch);
    this.scheduled = this.queue.length > 0;
    if (this.scheduled) setImmediate(() => this.flush());
    if (batch.length === 0) return;
    const done: { p: Pending; value: unknown }[] = [];
    const failed: { p: Pending; err: unknown }[] = [];
    const q = this.sql;
    q.begin.run();
    try {
      this.guard?.();
    } catch (err) {
      this.db.exec('ROLLBACK');
      for (const p of batch) p.reject(err);
      return;
    }
    for (const p of batch) {
      q.savepoint.run();
      try {
        const value = p.run();
        q.release.run();
        done.push({ p, value });
      } catch (err) {
        q.rollbackTo.run();
        q.release.run();
        failed.push({ p, err });
      }
    }
    try {
      q.commit.run();
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      for (let i = done.length - 1; i >= 0; i--) done[i]!.p.undo?.();
      for (const p of batch) p.reject(err);
      return;
    }
    this.commits++;
    this.writes += batch.length;
    for (const { p, value } of done) {
      p.committed?.();
      p.resolve(value);
    }
    for (const { p, err } of failed) p.reject(err);
  }
}
