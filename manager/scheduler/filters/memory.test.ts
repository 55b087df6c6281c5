import { describe, expect, it } from 'vitest';
import { ctx, G, smallReq, testNode } from '../testnode';
import { memory } from './memory';

describe('memory filter', () => {
  const n = (used: number) => testNode('a', { allocated: { cpuMillis: 0, memoryBytes: used } });
  it('never oversells by default', () => {
    expect(memory.filter(n(30 * G), smallReq, ctx())).toBeUndefined();
    expect(memory.filter(n(30 * G + 1), smallReq, ctx())).toBe('insufficient memory');
  });
  it('oversells only when configured', () => {
    expect(memory.filter(n(40 * G), smallReq, ctx({ config: { memoryOvercommit: 1.5 } }))).toBeUndefined();
    expect(memory.filter(n(47 * G), smallReq, ctx({ config: { memoryOvercommit: 1.5 } }))).toBe('insufficient memory');
  });
});
