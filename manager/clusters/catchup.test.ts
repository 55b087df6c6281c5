import { describe, expect, it } from 'vitest';
import { applyRate, catchUpLimits } from './catchup';

const base = { maxSeconds: 1, maxTransactions: 50 };

describe('switchover catch-up limits', () => {
  it('keep the fixed limit before the rate is known or when nothing is applied', () => {
    expect(catchUpLimits(base, [], 1000)).toEqual(base);
    expect(catchUpLimits(base, [{ atMs: 0, executed: 10 }, { atMs: 1000, executed: 10 }], 1000)).toEqual(base);
  });

  it('allow what the candidate applies in the given time (3,000 a second: 3,000 behind is a second of work)', () => {
    const s = [{ atMs: 0, executed: 1000 }, { atMs: 500, executed: 2500 }, { atMs: 2000, executed: 7000 }];
    expect(applyRate(s)).toBe(3000);
    expect(catchUpLimits(base, s, 1000)).toEqual({ maxSeconds: 1, maxTransactions: 3000 });
    expect(catchUpLimits(base, s, 500).maxTransactions).toBe(1500);
  });

  it('never go below the fixed limit for a slow applier', () => {
    expect(catchUpLimits(base, [{ atMs: 0, executed: 0 }, { atMs: 1000, executed: 20 }], 1000).maxTransactions).toBe(50);
  });
});
