import { describe, expect, it } from 'vitest';
import { binlogArchiveBehind, binlogArchiveGap } from './binlog-archive';
import type { HealthState } from '../types';

const state = (a: NonNullable<HealthState['binlogArchives']>) => ({ now: 0, nodes: [], instances: [], binlogArchives: a }) as unknown as HealthState;

describe('binlog archive alerts', () => {
  it('a gap fires; behind fires past 30 s or when the archiver does not run', () => {
    const ok = { cluster: 'a', running: true, lagSeconds: 1, gap: '', error: '' };
    expect(binlogArchiveGap.evaluate(state([ok, { ...ok, cluster: 'b', gap: 'x missing' }])).map((f) => f.subject)).toEqual(['b']);
    const behind = binlogArchiveBehind.evaluate(state([ok, { ...ok, cluster: 'b', lagSeconds: 31 }, { ...ok, cluster: 'c', running: false, error: 'access denied' }]));
    expect(behind.map((f) => f.subject)).toEqual(['b', 'c']);
    expect(behind[1]!.message).toMatch(/does not run: access denied/);
  });
});
