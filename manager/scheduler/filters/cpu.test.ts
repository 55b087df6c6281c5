import { describe, expect, it } from 'vitest';
import { ctx, smallReq, testNode } from '../testnode';
import { cpu } from './cpu';

describe('cpu filter', () => {
  const n = (used: number) => testNode('a', { allocated: { cpuMillis: used, memoryBytes: 0 } });
  it('fits exactly up to capacity, not one millicore more', () => {
    expect(cpu.filter(n(7000), smallReq, ctx())).toBeUndefined();
    expect(cpu.filter(n(7001), smallReq, ctx())).toBe('insufficient cpu');
  });
  it('oversells by the configured ratio', () => {
    expect(cpu.filter(n(15_000), smallReq, ctx({ config: { cpuOvercommit: 2 } }))).toBeUndefined();
    expect(cpu.filter(n(15_001), smallReq, ctx({ config: { cpuOvercommit: 2 } }))).toBe('insufficient cpu');
    expect(cpu.filter(n(23_000), smallReq, ctx({ config: { cpuOvercommit: 3 } }))).toBeUndefined();
  });
});
