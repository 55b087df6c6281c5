import { describe, expect, it } from 'vitest';
import { ctx, G, smallReq, testNode } from '../testnode';
import { disk, fittingDisks } from './disk';

describe('disk filter', () => {
  it('needs one disk with enough unreserved AND enough real free space', () => {
    const disks = [
      { path: '/d1', totalBytes: 100 * G, freeBytes: 100 * G, allocatedBytes: 90 * G }, // reserved away
      { path: '/d2', totalBytes: 100 * G, freeBytes: 10 * G, allocatedBytes: 0 }, // filled by something else
    ];
    expect(disk.filter(testNode('a', { disks }), smallReq, ctx())).toBe('no data disk with 20G free');
    const ok = [...disks, { path: '/d3', totalBytes: 100 * G, freeBytes: 20 * G, allocatedBytes: 80 * G }];
    expect(disk.filter(testNode('a', { disks: ok }), smallReq, ctx())).toBeUndefined();
    expect(fittingDisks(ok, smallReq).map((d) => d.path)).toEqual(['/d3']);
  });
  it('does not sum space across disks: an instance lives on one', () => {
    const disks = [
      { path: '/d1', totalBytes: 15 * G, freeBytes: 15 * G, allocatedBytes: 0 },
      { path: '/d2', totalBytes: 15 * G, freeBytes: 15 * G, allocatedBytes: 0 },
    ];
    expect(disk.filter(testNode('a', { disks }), smallReq, ctx())).toBe('no data disk with 20G free');
  });
  it('words the reason for the size asked', () => {
    expect(disk.filter(testNode('a'), { ...smallReq, diskBytes: 600 * G }, ctx())).toBe('no data disk with 600G free');
    expect(disk.filter(testNode('a'), { ...smallReq, diskBytes: 2048 * G }, ctx())).toBe('no data disk with 2T free');
  });
});
