import { describe, expect, it } from 'vitest';
import { purgeTarget } from './binlog';

describe('binlog cap', () => {
  const files = [
    { name: 'binlog.000001', bytes: 100 },
    { name: 'binlog.000002', bytes: 100 },
    { name: 'binlog.000003', bytes: 100 },
    { name: 'binlog.000004', bytes: 10 },
  ];
  it('purges the oldest files until the total is within the cap', () => {
    expect(purgeTarget(files, 1000)).toBeUndefined();
    expect(purgeTarget(files, 310)).toBeUndefined();
    expect(purgeTarget(files, 300)).toBe('binlog.000002');
    expect(purgeTarget(files, 150)).toBe('binlog.000003');
  });
  it('never purges the file being written', () => {
    expect(purgeTarget(files, 0)).toBe('binlog.000004');
    expect(purgeTarget([{ name: 'binlog.000001', bytes: 10 ** 9 }], 1)).toBeUndefined();
  });
});
