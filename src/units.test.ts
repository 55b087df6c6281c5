import { describe, expect, it } from 'vitest';
import { formatCpu, formatSize, parseCpu, parseSize } from './units';

describe('parseSize', () => {
  it.each([
    ['4G', 4 * 1024 ** 3],
    ['4g', 4 * 1024 ** 3],
    ['4GiB', 4 * 1024 ** 3],
    ['4GB', 4 * 1024 ** 3],
    ['512M', 512 * 1024 ** 2],
    ['1.5T', 1.5 * 1024 ** 4],
    ['10k', 10240],
    ['1234', 1234],
    [' 2G ', 2 * 1024 ** 3],
  ])('%s', (input, want) => expect(parseSize(input)).toBe(want));

  it.each(['', 'G', '-1G', '4X', '4 gigs', '1e3', 'abc'])('rejects %j', (input) => {
    expect(() => parseSize(input)).toThrow(/invalid size/);
  });

  it('rejects sizes beyond what a number holds exactly', () => {
    expect(() => parseSize('99999999P')).toThrow(/too large/);
  });
});

describe('parseCpu', () => {
  it.each([
    ['1', 1000],
    ['2', 2000],
    ['0.5', 500],
    ['500m', 500],
    ['1.25', 1250],
    ['0', 0],
  ])('%s', (input, want) => expect(parseCpu(input)).toBe(want));

  it.each(['-1', '1.0005', 'm', '2 cores', '1e3', '0.5m'])('rejects %j', (input) => {
    expect(() => parseCpu(input)).toThrow(/invalid CPU/);
  });
});

describe('format', () => {
  it('formats sizes and CPU back the way they are written', () => {
    expect(formatSize(4 * 1024 ** 3)).toBe('4G');
    expect(formatSize(1536 * 1024 ** 2)).toBe('1.5G');
    expect(formatCpu(2000)).toBe('2');
    expect(formatCpu(500)).toBe('0.5');
    expect(formatCpu(250)).toBe('250m');
  });
});
