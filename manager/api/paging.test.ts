import { describe, expect, it } from 'vitest';
import { pageOf } from './paging';

const rows = Array.from({ length: 2500 }, (_, i) => ({ id: `n${String(i).padStart(5, '0')}` }));
const key = (r: { id: string }) => r.id;

describe('pageOf', () => {
  it('walks every row once in pages of at most the asked size', () => {
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const p = pageOf(rows, key, { pageSize: 1000, pageToken: token });
      expect(p.items.length).toBeLessThanOrEqual(1000);
      seen.push(...p.items.map(key));
      token = p.next;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(rows.map(key));
  });

  it('defaults to 1000, refuses larger pages and foreign tokens', () => {
    expect(pageOf(rows, key, {}).items).toHaveLength(1000);
    expect(() => pageOf(rows, key, { pageSize: 1001 })).toThrow(/between 1 and 1000/);
    expect(() => pageOf(rows, key, { pageToken: 'garbage' })).toThrow(/page_token/);
  });

  it('neither repeats nor skips rows that stay when others are removed between pages', () => {
    const first = pageOf(rows, key, { pageSize: 10 });
    const fewer = rows.filter((r) => r.id !== 'n00003' && r.id !== 'n00012');
    const second = pageOf(fewer, key, { pageSize: 10, pageToken: first.next });
    expect(second.items[0]!.id).toBe('n00010');
    expect(second.items.map(key)).not.toContain('n00012');
  });
});
