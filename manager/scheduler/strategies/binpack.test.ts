import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULER_CONFIG } from '../types';
import { G, smallReq, testNode } from '../testnode';
import { binpack } from './binpack';

describe('binpack strategy', () => {
  it('scores the more allocated node higher, disk included', () => {
    const idle = testNode('a');
    const busy = testNode('b', { allocated: { cpuMillis: 4000, memoryBytes: 16 * G } });
    const diskBusy = testNode('c', { disks: [{ path: '/d1', totalBytes: 500 * G, freeBytes: 500 * G, allocatedBytes: 400 * G }] });
    const s = (n: typeof idle) => binpack.score(n, smallReq, DEFAULT_SCHEDULER_CONFIG);
    expect(s(busy)).toBeGreaterThan(s(idle));
    expect(s(diskBusy)).toBeGreaterThan(s(idle));
    expect(s(idle)).toBeCloseTo(((1 / 8 + 2 / 32 + 20 / 500) / 3) * 100);
  });
  it('picks the best-fitting disk: the least unreserved space', () => {
    const disks = [
      { path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 50 * G },
      { path: '/d2', totalBytes: 200 * G, freeBytes: 200 * G, allocatedBytes: 120 * G },
      { path: '/d3', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 70 * G },
    ];
    expect(binpack.pickDisk(disks, smallReq, DEFAULT_SCHEDULER_CONFIG).path).toBe('/d3');
  });
});
