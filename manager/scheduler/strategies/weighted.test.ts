import { describe, expect, it } from 'vitest';
import { DEFAULT_SCHEDULER_CONFIG } from '../types';
import { G, smallReq, testNode } from '../testnode';
import { findStrategy, STRATEGIES } from './index';
import { weighted } from './weighted';

const cfg = (cpu: number, memory: number, disk: number) => ({ ...DEFAULT_SCHEDULER_CONFIG, weights: { cpu, memory, disk } });

describe('weighted strategy', () => {
  const cpuBusy = testNode('a', { allocated: { cpuMillis: 6000, memoryBytes: 0 } });
  const memBusy = testNode('b', { allocated: { cpuMillis: 0, memoryBytes: 24 * G } });

  it('packs the resource with the larger weight', () => {
    expect(weighted.score(cpuBusy, smallReq, cfg(3, 1, 0))).toBeGreaterThan(weighted.score(memBusy, smallReq, cfg(3, 1, 0)));
    expect(weighted.score(memBusy, smallReq, cfg(1, 3, 0))).toBeGreaterThan(weighted.score(cpuBusy, smallReq, cfg(1, 3, 0)));
  });
  it('spreads a resource with a negative weight', () => {
    expect(weighted.score(testNode('c'), smallReq, cfg(-1, 0, 0))).toBeGreaterThan(weighted.score(cpuBusy, smallReq, cfg(-1, 0, 0)));
  });
  it('is (used + requested) / capacity per resource, weighted', () => {
    expect(weighted.score(cpuBusy, smallReq, cfg(2, 1, 0))).toBeCloseTo(((2 * (7 / 8) + 1 * (2 / 32)) / 3) * 100);
  });
  it('picks the disk by the sign of the disk weight', () => {
    const disks = [
      { path: '/roomy', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 0 },
      { path: '/tight', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 70 * G },
    ];
    expect(weighted.pickDisk(disks, smallReq, cfg(1, 1, 1)).path).toBe('/tight');
    expect(weighted.pickDisk(disks, smallReq, cfg(1, 1, -1)).path).toBe('/roomy');
  });
});

describe('strategy registry', () => {
  it('looks strategies up by name and nothing else', () => {
    expect(Object.keys(STRATEGIES).sort()).toEqual(['binpack', 'spread', 'weighted']);
    expect(findStrategy('binpack')?.name).toBe('binpack');
    expect(findStrategy('toString')).toBeUndefined();
    expect(findStrategy('nope')).toBeUndefined();
  });
});
