import { describe, expect, it } from 'vitest';
import { ctx, smallReq, testNode } from '../testnode';
import { firstFreePort, port } from './port';

describe('port filter', () => {
  it('finds the lowest port in the range that neither an instance nor the host uses', () => {
    const n = testNode('a', { portMin: 3301, portMax: 3303, usedPorts: new Set([3301, 3302]) });
    expect(firstFreePort(n)).toBe(3303);
    expect(port.filter(n, smallReq, ctx())).toBeUndefined();
  });
  it('refuses a node whose range is used up', () => {
    const n = testNode('a', { portMin: 3301, portMax: 3302, usedPorts: new Set([3301, 3302]) });
    expect(port.filter(n, smallReq, ctx())).toBe('no free port');
  });
  it('trusts the cached answer the snapshot keeps', () => {
    expect(firstFreePort(testNode('a', { freePort: 3350 }))).toBe(3350);
    expect(port.filter(testNode('a', { freePort: null }), smallReq, ctx())).toBe('no free port');
  });
  it('never hands out a cached port that was taken behind the cache', () => {
    const n = testNode('a', { portMin: 3301, portMax: 3303, freePort: 3301, usedPorts: new Set([3301, 3302]) });
    expect(firstFreePort(n)).toBe(3303);
    n.usedPorts.add(3303);
    expect(port.filter(n, smallReq, ctx())).toBe('no free port');
  });
});
