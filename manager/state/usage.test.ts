import { describe, expect, it } from 'vitest';
import { UsageMap } from './usage';

const m = (id: string, usedDiskBytes = 1) => ({ id, usedDiskBytes, usageMeasuredAtMs: 5 });

describe('usage map', () => {
  it("a node's report replaces that node's entries and no other node's", () => {
    const u = new UsageMap();
    u.report('a', [m('i1'), m('i2')], 10);
    u.report('b', [m('i3')], 10);
    u.report('a', [m('i2', 7)], 20);
    expect(u.get('i1')).toBeUndefined();
    expect(u.get('i2')).toMatchObject({ node: 'a', usedDiskBytes: 7, receivedAtMs: 20 });
    expect(u.get('i3')).toMatchObject({ node: 'b', usedDiskBytes: 1 });
  });

  it('an instance that moved is kept under its new node when the old node reports it gone', () => {
    const u = new UsageMap();
    u.report('a', [m('i1')], 10);
    u.report('b', [m('i1', 3)], 20);
    u.report('a', [], 30);
    expect(u.get('i1')).toMatchObject({ node: 'b', usedDiskBytes: 3 });
  });

  it('ignores instances the agent has not measured yet', () => {
    const u = new UsageMap();
    u.report('a', [{ id: 'i1', usageMeasuredAtMs: 0 }], 10);
    expect([...u.entries()]).toEqual([]);
  });
});
