import { describe, expect, it } from 'vitest';
import { decideRetention, type CatalogEntry } from './retention';

const NOW = Date.parse('2026-12-08T00:00:00Z');
const DAY = 86_400_000;
const full = (id: string, daysAgo: number, status = 'complete'): CatalogEntry => ({ id, status, method: 'clone', completedAt: new Date(NOW - daysAgo * DAY).toISOString() });
const binlog = (id: string, daysAgo: number): CatalogEntry => ({ id, status: 'complete', method: 'binlog', completedAt: new Date(NOW - daysAgo * DAY).toISOString() });
const none = new Set<string>();
const deleted = (d: { delete: { id: string }[] }) => d.delete.map((x) => x.id).sort();

describe('retention', () => {
  const five = [full('b1', 1), full('b2', 2), full('b3', 3), full('b4', 4), full('b5', 5)];

  it('keep N full: deletes all but the newest N', () => {
    const d = decideRetention(five, { keepFull: 2, keepDays: 0 }, NOW, none);
    expect(deleted(d)).toEqual(['b3', 'b4', 'b5']);
    expect(d.keep.sort()).toEqual(['b1', 'b2']);
    expect(d.delete[0]!.why).toMatch(/newest 2/);
  });

  it('keep D days: deletes what completed more than D days ago', () => {
    expect(deleted(decideRetention(five, { keepFull: 0, keepDays: 3.5 }, NOW, none))).toEqual(['b4', 'b5']);
  });

  it('both rules: a backup is kept when either keeps it', () => {
    expect(deleted(decideRetention(five, { keepFull: 1, keepDays: 2.5 }, NOW, none))).toEqual(['b3', 'b4', 'b5']);
    expect(deleted(decideRetention(five, { keepFull: 4, keepDays: 1.5 }, NOW, none))).toEqual(['b5']);
  });

  it('never deletes the newest complete backup, however old', () => {
    const old = [full('b1', 40), full('b2', 50)];
    expect(deleted(decideRetention(old, { keepFull: 0, keepDays: 7 }, NOW, none))).toEqual(['b2']);
    // The newest complete one, not the newest row: a failed newer backup does not count.
    const withFailed = [full('bf', 0, 'failed'), full('b1', 40), full('b2', 50)];
    const d = decideRetention(withFailed, { keepFull: 0, keepDays: 7 }, NOW, none);
    expect(deleted(d)).toEqual(['b2']);
    expect(d.keep).toContain('b1');
  });

  it('never deletes a backup a running restore or drill reads', () => {
    expect(deleted(decideRetention(five, { keepFull: 1, keepDays: 0 }, NOW, new Set(['b4'])))).toEqual(['b2', 'b3', 'b5']);
  });

  it('never deletes running, failed or deleting rows', () => {
    const rows = [full('b1', 1), full('r', 9, 'running'), full('f', 9, 'failed'), full('x', 9, 'deleting'), full('b2', 9)];
    expect(deleted(decideRetention(rows, { keepFull: 1, keepDays: 0 }, NOW, none))).toEqual(['b2']);
  });

  it('no rule: deletes nothing', () => {
    expect(decideRetention(five, { keepFull: 0, keepDays: 0 }, NOW, none).delete).toEqual([]);
  });

  it('keeps binary logs back to the oldest kept full, deletes older ones', () => {
    const rows = [...five, binlog('l0', 0.5), binlog('l2', 2.5), binlog('l4', 4.5)];
    const d = decideRetention(rows, { keepFull: 3, keepDays: 0 }, NOW, none);
    // Kept fulls b1..b3 (oldest completed 3 days ago): l2 is newer and kept, l4 older and deleted.
    expect(deleted(d)).toEqual(['b4', 'b5', 'l4']);
    expect(d.keep).toEqual(expect.arrayContaining(['l0', 'l2']));
  });

  describe('incremental chains', () => {
    const inc = (id: string, parentId: string, daysAgo: number, status = 'complete'): CatalogEntry => ({ id, status, method: 'mariabackup', parentId, completedAt: new Date(NOW - daysAgo * DAY).toISOString() });
    // Two chains: f1 (3 days) <- i11 <- i12, and f2 (1 day) <- i21.
    const chains = [inc('f1', '', 3), inc('i11', 'f1', 2.5), inc('i12', 'i11', 2), inc('f2', '', 1), inc('i21', 'f2', 0.5)];

    it('keep N full counts chains: an old chain goes whole, its incrementals deepest first', () => {
      const d = decideRetention(chains, { keepFull: 1, keepDays: 0 }, NOW, none);
      expect(d.delete.map((x) => x.id)).toEqual(['i12', 'i11', 'f1']);
      expect(d.keep.sort()).toEqual(['f2', 'i21']);
      expect(d.delete[0]!.why).toMatch(/incremental of f1/);
    });

    it('never deletes a backup a kept one builds on', () => {
      // keep 2 days: f1 is 3 days old, but its incremental i12 (2 days) is not kept by age
      // alone (incrementals follow their full), so the chain goes; with i12 in use, the whole
      // chain under it stays.
      expect(deleted(decideRetention(chains, { keepFull: 0, keepDays: 2.2 }, NOW, none))).toEqual(['f1', 'i11', 'i12']);
      expect(deleted(decideRetention(chains, { keepFull: 0, keepDays: 2.2 }, NOW, new Set(['i12'])))).toEqual([]);
      expect(deleted(decideRetention(chains, { keepFull: 0, keepDays: 2.2 }, NOW, new Set(['i11'])))).toEqual([]);
    });

    it('the newest complete backup, an incremental, keeps its chain', () => {
      const rows = [inc('f0', '', 9), inc('f1', '', 5), inc('i11', 'f1', 4), inc('i12', 'i11', 0.1)];
      const d = decideRetention(rows, { keepFull: 0, keepDays: 1 }, NOW, none);
      expect(deleted(d)).toEqual(['f0']);
      expect(d.keep.sort()).toEqual(['f1', 'i11', 'i12']);
    });

    it('whatever the rule, no kept incremental ever loses an ancestor', () => {
      const rows = [...chains, inc('i13', 'i12', 0.2, 'running'), inc('i22', 'i21', 0.1, 'failed')];
      for (const keepFull of [0, 1, 2, 3]) {
        for (const keepDays of [0, 0.7, 1.5, 2.7, 4]) {
          for (const used of [[], ['i11'], ['i12'], ['f1'], ['i21']]) {
            const d = decideRetention(rows, { keepFull, keepDays }, NOW, new Set(used));
            const gone = new Set(d.delete.map((x) => x.id));
            const parent = new Map(rows.map((r) => [r.id, r.parentId ?? '']));
            for (const id of d.keep) for (let p = parent.get(id); p; p = parent.get(p)) expect(gone.has(p), `${id} kept, its ancestor ${p} deleted (${keepFull}, ${keepDays}, ${used})`).toBe(false);
            // A running incremental keeps its chain too (it is being built on it).
            expect(gone.has('i12') && !gone.has('i13')).toBe(false);
          }
        }
      }
    });
  });
});
