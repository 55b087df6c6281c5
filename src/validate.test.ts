import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { checkName, checkShape } from './validate';

const G = 1024 ** 3;

describe('checkName', () => {
  it.each(['db1', 'orders-primary', 'a', 'x'.repeat(63)])('accepts %s', (n) => expect(checkName('name', n)).toBe(n));
  it.each(['', 'has space', 'UPPER', '1abc', 'trailing-', 'x'.repeat(64), 'x'.repeat(200), 'semi;colon', '../etc'])(
    'rejects %j with INVALID_ARGUMENT',
    (n) => {
      try {
        checkName('name', n);
        expect.unreachable();
      } catch (e) {
        expect((e as { code: number }).code).toBe(status.INVALID_ARGUMENT);
      }
    },
  );
});

describe('checkShape', () => {
  it('accepts a normal shape', () => {
    expect(checkShape({ cpuMillis: 1000, memoryBytes: G, diskBytes: 5 * G })).toEqual({ cpuMillis: 1000, memoryBytes: G, diskBytes: 5 * G });
  });
  it.each([
    [{ cpuMillis: 1000, memoryBytes: 0, diskBytes: G }, /memory/],
    [{ cpuMillis: -1000, memoryBytes: G, diskBytes: G }, /cpu/],
    [{ cpuMillis: 0, memoryBytes: G, diskBytes: G }, /cpu/],
    [{ cpuMillis: 1000, memoryBytes: G, diskBytes: 0 }, /disk/],
    [{ cpuMillis: 1000, memoryBytes: 1.5, diskBytes: G }, /memory/],
    [null, /required/],
  ])('rejects %j', (shape, msg) => {
    expect(() => checkShape(shape)).toThrow(msg);
  });
});
