import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { GroupWriter } from './writer';

function db() {
  const d = new Database(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-writer-')), 'w.db'));
  d.pragma('journal_mode = WAL');
  d.exec('CREATE TABLE t (x INTEGER PRIMARY KEY)');
  return d;
}

describe('group writer', () => {
  it('commits a burst of writes in one transaction and answers each after the commit', async () => {
    const d = db();
    const w = new GroupWriter(d);
    const seenInside: number[] = [];
    const all = Array.from({ length: 50 }, (_, i) =>
      w.write(() => {
        d.prepare('INSERT INTO t VALUES (?)').run(i);
        // Each write sees the ones queued before it in the same batch.
        seenInside.push((d.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n);
        return i;
      }),
    );
    expect(await Promise.all(all)).toEqual([...Array(50).keys()]);
    expect(seenInside).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(w.commits).toBe(1);
    expect(d.inTransaction).toBe(false);
  });

  it('fails only the write that threw; the others in its batch commit', async () => {
    const d = db();
    const w = new GroupWriter(d);
    const a = w.write(() => d.prepare('INSERT INTO t VALUES (1)').run());
    const b = w.write(() => {
      d.prepare('INSERT INTO t VALUES (2)').run();
      d.prepare('INSERT INTO t VALUES (1)').run(); // duplicate key: this write is rolled back whole
    });
    const c = w.write(() => d.prepare('INSERT INTO t VALUES (3)').run());
    await expect(a).resolves.toBeTruthy();
    await expect(b).rejects.toThrow(/UNIQUE/);
    await expect(c).resolves.toBeTruthy();
    expect((d.prepare('SELECT x FROM t ORDER BY x').all() as { x: number }[]).map((r) => r.x)).toEqual([1, 3]);
  });

  it('a failed commit fails every write in the batch and undoes their in-memory effects, newest first', async () => {
    const d = db();
    const w = new GroupWriter(d);
    const memory: number[] = [];
    const undone: number[] = [];
    const writes = [1, 2, 3].map((i) =>
      w.write(
        () => {
          d.prepare('INSERT INTO t VALUES (?)').run(i);
          memory.push(i);
        },
        () => {
          undone.push(i);
          memory.splice(memory.indexOf(i), 1);
        },
      ),
    );
    // Make COMMIT fail: a deferred foreign key violation is only checked at commit.
    d.exec('PRAGMA foreign_keys = ON');
    d.exec('CREATE TABLE child (p INTEGER REFERENCES t(x) DEFERRABLE INITIALLY DEFERRED)');
    const orphan = w.write(() => d.prepare('INSERT INTO child VALUES (999)').run());
    for (const p of [...writes, orphan]) await expect(p).rejects.toThrow(/FOREIGN KEY/);
    expect(memory).toEqual([]);
    expect(undone).toEqual([3, 2, 1]);
    expect((d.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n).toBe(0);
    expect(d.inTransaction).toBe(false);
  });

  it('bounds a batch and commits the rest in the next turn', async () => {
    const d = db();
    const w = new GroupWriter(d, 10);
    await Promise.all(Array.from({ length: 25 }, (_, i) => w.write(() => d.prepare('INSERT INTO t VALUES (?)').run(i))));
    expect(w.commits).toBe(3);
    expect(w.writes).toBe(25);
  });
});
