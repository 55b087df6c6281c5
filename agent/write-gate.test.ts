import { describe, expect, it } from 'vitest';
import { WriteGate } from './write-gate';

describe('WriteGate', () => {
  let now = 100_000;
  const gate = () => new WriteGate(() => now);
  const open = (seq: number, grantBaseMs: number, grantMs = 4000) => ({ readOnly: false, seq, grantBaseMs, grantMs });
  const close = (seq: number) => ({ readOnly: true, seq, grantBaseMs: 0, grantMs: 0 });

  it('opens on a grant based on a heartbeat younger than the grant', () => {
    now = 100_000;
    expect(() => gate().admit('i-1', open(1, now - 3999))).not.toThrow();
  });

  it('refuses an open delivered after its grant ran out (a request held up by a partition)', () => {
    now = 100_000;
    expect(() => gate().admit('i-1', open(1, now - 13_000))).toThrow(/stays read-only: the write grant is based on a heartbeat sent 13000 ms ago and was good for 4000 ms/);
  });

  it('refuses an open without a grant or an order number, as an older manager would send it', () => {
    expect(() => gate().admit('i-1', { readOnly: false, seq: 0, grantBaseMs: 0, grantMs: 0 })).toThrow(/carries no order number/);
    expect(() => gate().admit('i-1', open(5, 0))).toThrow(/carries no write grant/);
    expect(() => gate().admit('i-1', open(5, now, 0))).toThrow(/carries no write grant/);
  });

  it('refuses an open that arrives after a later close of the same instance; closing is always allowed', () => {
    now = 100_000;
    const g = gate();
    g.admit('i-1', close(20));
    expect(() => g.admit('i-1', open(10, now))).toThrow(/a later read-only request \(20\) was applied before this one \(10\)/);
    // Another instance has its own order; a stale close still closes.
    expect(() => g.admit('i-2', open(10, now))).not.toThrow();
    expect(() => g.admit('i-1', close(5))).not.toThrow();
    expect(() => g.admit('i-1', open(21, now))).not.toThrow();
  });

  it('refuses an open decided on a report from before the write lease fenced the instance', () => {
    now = 100_000;
    const g = gate();
    const base = now - 500;
    g.fenced('i-1');
    expect(() => g.admit('i-1', open(1, base))).toThrow(/its write lease ran out 0 ms ago, after the heartbeat this grant is based on/);
    now += 2000;
    expect(() => g.admit('i-1', open(2, now - 100))).not.toThrow();
  });
});
