import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { BerthError } from '../../src/errors';
import { parseConstraint, parseSpreadOver } from './constraints';

describe('constraint syntax', () => {
  it.each([
    ['zone=a', { key: 'zone', op: 'in', values: ['a'], soft: false, text: 'zone=a' }],
    ['rack != r3', { key: 'rack', op: 'notin', values: ['r3'], soft: false, text: 'rack!=r3' }],
    ['~disk=ssd', { key: 'disk', op: 'in', values: ['ssd'], soft: true, text: '~disk=ssd' }],
    ['zone in (a, b)', { key: 'zone', op: 'in', values: ['a', 'b'], soft: false, text: 'zone in (a,b)' }],
    ['~ zone notin (c)', { key: 'zone', op: 'notin', values: ['c'], soft: true, text: '~zone notin (c)' }],
  ])('%s', (raw, want) => {
    expect(parseConstraint(raw)).toEqual(want);
  });

  it.each(['zone', 'zone=', '=a', 'Zone=a', 'zone in a,b', 'zone in ()', 'zone=a b', 'zone~a', 'zone in (a,)'])('refuses %j as INVALID_ARGUMENT', (raw) => {
    let err: unknown;
    try {
      parseConstraint(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BerthError);
    expect((err as BerthError).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('parses spread_over with an optional ~', () => {
    expect(parseSpreadOver('')).toBeUndefined();
    expect(parseSpreadOver('rack')).toEqual({ key: 'rack', soft: false });
    expect(parseSpreadOver('~zone')).toEqual({ key: 'zone', soft: true });
    expect(() => parseSpreadOver('Rack!')).toThrow(/spread_over/);
  });
});
