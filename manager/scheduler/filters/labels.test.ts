import { describe, expect, it } from 'vitest';
import { parseConstraints } from '../constraints';
import { ctx, smallReq, testNode } from '../testnode';
import { labels } from './labels';

const node = testNode('a', { labels: { zone: 'a', rack: 'r3', disk: 'ssd' } });
const check = (exprs: string[], relaxSoft = false) => labels.filter(node, { ...smallReq, constraints: parseConstraints(exprs) }, ctx({ relaxSoft }));

describe('labels filter', () => {
  it.each([
    [['zone=a'], undefined],
    [['zone==a'], undefined],
    [['zone=b'], 'constraint zone=b not met'],
    [['rack!=r3'], 'constraint rack!=r3 not met'],
    [['rack!=r4'], undefined],
    [['disk=ssd', 'zone in (a,b)'], undefined],
    [['zone in (b, c)'], 'constraint zone in (b,c) not met'],
    [['zone notin (a)'], 'constraint zone notin (a) not met'],
    [['gpu=yes'], 'constraint gpu=yes not met'],
    [['gpu!=yes'], undefined],
  ])('%j -> %s', (exprs, want) => {
    expect(check(exprs)).toBe(want);
  });

  it('enforces a soft constraint until the scheduler relaxes soft ones', () => {
    expect(check(['~zone=b'])).toBe('constraint ~zone=b not met');
    expect(check(['~zone=b'], true)).toBeUndefined();
    expect(check(['~zone=b', 'rack=r1'], true)).toBe('constraint rack=r1 not met');
  });
});
