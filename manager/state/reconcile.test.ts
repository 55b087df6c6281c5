import { describe, expect, it } from 'vitest';
import type { InstanceRow } from '../store/instances';
import { reconcile } from './reconcile';

const row = (id: string, state: InstanceRow['state'], containerId = `c-${id}`) => ({ id, state, containerId }) as InstanceRow;

describe('reconcile', () => {
  it('follows what the agent reports', () => {
    const r = reconcile([row('a', 'running'), row('b', 'running'), row('c', 'missing')], [
      { id: 'a', state: 'running', containerId: 'c-a' },
      { id: 'b', state: 'stopped', containerId: 'c-b' },
      { id: 'c', state: 'running', containerId: 'c-c' },
    ]);
    expect(r.updates).toEqual([
      { id: 'b', state: 'stopped', containerId: 'c-b' },
      { id: 'c', state: 'running', containerId: 'c-c' },
    ]);
  });

  it('marks an instance the agent no longer has as missing', () => {
    expect(reconcile([row('a', 'running')], []).updates).toEqual([{ id: 'a', state: 'missing', containerId: undefined }]);
  });

  it('leaves instances under an operation alone', () => {
    expect(reconcile([row('a', 'creating'), row('b', 'deleting'), row('c', 'pending')], []).updates).toEqual([]);
  });

  it('reports containers the store does not know, without touching them', () => {
    expect(reconcile([], [{ id: 'x', state: 'running', containerId: 'c-x' }]).unknown).toEqual(['x']);
  });
});
