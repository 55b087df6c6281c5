import { describe, expect, it } from 'vitest';
import { chainOf, depthOf, rootOf, withAncestors, type ChainLink } from './chain';

const link = (id: string, parentId: string, fromLsn: string, toLsn: string, status = 'complete'): ChainLink => ({ id, parentId, status, fromLsn, toLsn });
const catalog = (...l: ChainLink[]) => new Map(l.map((x) => [x.id, x]));

describe('incremental chains', () => {
  const c = catalog(link('f', '', '0', '100'), link('i1', 'f', '100', '250'), link('i2', 'i1', '250', '400'));

  it('a restore of the last incremental applies the full, then each incremental in order', () => {
    const r = chainOf('i2', (id) => c.get(id));
    expect(r.ok && r.links.map((l) => l.id)).toEqual(['f', 'i1', 'i2']);
    const full = chainOf('f', (id) => c.get(id));
    expect(full.ok && full.links.map((l) => l.id)).toEqual(['f']);
  });

  it('refuses a chain with a missing, incomplete or non-contiguous link', () => {
    const gone = catalog(link('i1', 'f', '100', '250'), link('i2', 'i1', '250', '400'));
    expect(chainOf('i2', (id) => gone.get(id))).toEqual({ ok: false, error: expect.stringMatching(/builds on f, which is gone/) });
    const failed = catalog(link('f', '', '0', '100'), link('i1', 'f', '100', '250', 'deleting'), link('i2', 'i1', '250', '400'));
    expect(chainOf('i2', (id) => failed.get(id))).toEqual({ ok: false, error: expect.stringMatching(/i1 in the chain of i2 is deleting/) });
    const hole = catalog(link('f', '', '0', '100'), link('i1', 'f', '120', '250'));
    expect(chainOf('i1', (id) => hole.get(id))).toEqual({ ok: false, error: expect.stringMatching(/starts at LSN 120 but its parent f ends at 100/) });
    const loop = catalog(link('a', 'b', '1', '1'), link('b', 'a', '1', '1'));
    expect(chainOf('a', (id) => loop.get(id)).ok).toBe(false);
    expect(chainOf('zz', (id) => c.get(id))).toEqual({ ok: false, error: 'no backup zz' });
  });

  it('ancestors, root and depth', () => {
    expect([...withAncestors(['i2'], c)].sort()).toEqual(['f', 'i1', 'i2']);
    expect([...withAncestors(['f'], c)]).toEqual(['f']);
    expect(rootOf('i2', c)).toBe('f');
    expect(rootOf('x', c)).toBe('');
    expect([depthOf('f', c), depthOf('i1', c), depthOf('i2', c)]).toEqual([0, 1, 2]);
  });
});
