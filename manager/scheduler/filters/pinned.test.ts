import { describe, expect, it } from 'vitest';
import { ctx, smallReq, testNode } from '../testnode';
import { pinned } from './pinned';

describe('pinned filter', () => {
  it('passes every node when no node is asked for, and only that node when one is', () => {
    expect(pinned.filter(testNode('a'), smallReq, ctx())).toBeUndefined();
    expect(pinned.filter(testNode('a'), { ...smallReq, node: 'a' }, ctx())).toBeUndefined();
    expect(pinned.filter(testNode('b'), { ...smallReq, node: 'a' }, ctx())).toBe('not the requested node');
  });
});
