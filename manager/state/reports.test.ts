import { describe, expect, it } from 'vitest';
import type { AgentInstance__Output } from '../../src/gen/berth/v1/AgentInstance';
import { NodeReports } from './reports';

const i = (id: string, state = 'running') => ({ id, state }) as AgentInstance__Output;

describe('node reports', () => {
  it('deltas apply to the last full report; an empty one returns the same list', () => {
    const r = new NodeReports();
    expect(r.apply('a', { instances: [i('x'), i('y')] })).toEqual([i('x'), i('y')]);
    const same = r.apply('a', { instances: [], delta: true });
    expect(same).toEqual([i('x'), i('y')]);
    expect(r.apply('a', { instances: [], delta: true })).toBe(same);
    expect(r.apply('a', { instances: [i('y', 'stopped'), i('z')], delta: true, removedInstanceIds: ['x'] })).toEqual([i('y', 'stopped'), i('z')]);
    expect(r.apply('a', { instances: [i('w')] })).toEqual([i('w')]);
  });

  it('a delta with nothing to apply it to asks for a full report', () => {
    const r = new NodeReports();
    expect(r.apply('a', { instances: [], delta: true })).toBeUndefined();
    r.apply('a', { instances: [i('x')] });
    r.forget('a');
    expect(r.apply('a', { instances: [], delta: true })).toBeUndefined();
  });
});
