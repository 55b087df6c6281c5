import { describe, expect, it } from 'vitest';
import { ctx, smallReq, testNode } from '../testnode';
import { maxInstances } from './maxinstances';

describe('max-instances filter', () => {
  it('caps instances per node when configured, and never when 0', () => {
    const n = testNode('a', { instanceCount: 10 });
    expect(maxInstances.filter(n, smallReq, ctx())).toBeUndefined();
    expect(maxInstances.filter(n, smallReq, ctx({ config: { maxInstancesPerNode: 11 } }))).toBeUndefined();
    expect(maxInstances.filter(n, smallReq, ctx({ config: { maxInstancesPerNode: 10 } }))).toBe('node at its instance limit');
  });
});
