import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULER_CONFIG } from '../types';
import { G, smallReq, testNode } from '../testnode';
import { spread } from './spread';

describe('spread strategy', () => {
  it('scores the less allocated node higher, counting CPU and memory alike', () => {
    const idle = testNode('a');
    const cpuBusy = testNode('b', { allocated: { cpuMillis: 6000, memoryBytes: 0 } });
    const memBusy = testNode('c', { allocated: { cpuMillis: 0, memoryBytes: 24 * G } });
    const s = (n: typeof idle) => spread.score(n, smallReq, DEFAULT_SCHEDULER_CONFIG);
    expect(s(idle)).toBeGreaterThan(s(cpuBusy));
    expect(s(cpuBusy)).toBeCloseTo(s(memBusy));
    // 1 of 8 cores and 2 of 32G after placement: (7/8 + 30/32) / 2 left.
    expect(s(idle)).toBeCloseTo(((7 / 8 + 30 / 32) / 2) * 100);
  });
  it('picks the disk with the most unreserved space', () => {
    const disks = [
      { path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 50 * G },
      { path: '/d2', totalBytes: 200 * G, freeBytes: 200 * G, allocatedBytes: 120 * G },
      { path: '/d3', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 70 * G },
    ];
    expect(spread.pickDisk(disks, smallReq, DEFAULT_SCHEDULER_CONFIG).path).toBe('/d2');
  });
});
