import { describe, expect, it } from 'vitest';
import { Store } from './index';
import type { Mirror, OperationRow } from './operations';

// The engine keeps its own copy of each operation it drives and applies every write's Mirror to
// it instead of reading the row back: the copy must stay exactly what the store would return.
describe('OperationsTable: mirrors of its writes', () => {
  const fresh = () => {
    const store = Store.open(':memory:');
    const row = store.operations.insert({
      id: 'op-1', type: 't', params: { instanceId: 'i-1', n: 3, nested: { a: [1, 2] } },
      subjects: [{ kind: 'node', name: 'n2' }, { kind: 'instance', name: 'i-1' }, { kind: 'cluster', name: 'c' }, { kind: 'node', name: 'n1' }, { kind: 'node', name: 'n1' }],
      steps: ['reserve', 'a', 'b', 'c'], firstPending: 1,
    });
    return { store, row };
  };
  // progress/childIds roll children up at read time; an operation without children has none.
  const same = (store: Store, row: OperationRow) => expect(row).toEqual(store.operations.get(row.id));

  it('insert() returns the row get() reads back', () => {
    const { store, row } = fresh();
    same(store, row);
    expect(row.subjects.map((s) => `${s.kind}:${s.name}`)).toEqual(['cluster:c', 'instance:i-1', 'node:n1', 'node:n2']);
  });

  it('every transition, applied to the copy, leaves it equal to the store', () => {
    const { store, row } = fresh();
    const ops = store.operations;
    const steps: (() => Mirror)[] = [
      () => ops.stepStarted('op-1', 1),
      () => ops.stepError('op-1', 1, 'attempt 1: flaky'),
      () => ops.stepStarted('op-1', 1),
      () => ops.stepDone('op-1', 1, { containerId: 'abc' }, false, true),
      () => ops.setProgress('op-1', { bytesDone: 5, bytesTotal: 10, phase: 'copy' }),
      () => ops.stepDone('op-1', 2, undefined, true),
      () => ops.stepStarted('op-1', 3),
      () => ops.stepEnded('op-1', 3, 'failed', 'boom'),
      () => ops.setState('op-1', 'stuck', 'needs a person'),
      () => ops.setState('op-1', 'running'),
      () => ops.startRollback('op-1', 3, 'c: boom', 'boom'),
      () => ops.undoing('op-1', 3),
      () => ops.undone('op-1', 3, 3),
      () => ops.undoing('op-1', 2),
      () => ops.stepEnded('op-1', 2, 'undo_failed', 'node gone'),
      () => ops.undoing('op-1', 1),
      () => ops.undone('op-1', 1, 3),
      () => ops.finish('op-1', 'failed', 'c: boom; left behind: b'),
    ];
    for (const write of steps) {
      write()(row);
      same(store, row);
    }
  });

  it('a step ended and the next one started in one commit, and the last step ended with the operation', () => {
    const { store, row } = fresh();
    const ops = store.operations;
    ops.stepStarted('op-1', 1)(row);
    store.tx(() => ops.stepDone('op-1', 1, 'x', false, true))(row);
    expect(store.operations.get('op-1')!.steps.map((s) => [s.state, s.attempts])).toEqual([['done', 0], ['done', 1], ['running', 1], ['pending', 0]]);
    same(store, row);
    store.tx(() => ops.stepDone('op-1', 2, 'y'))(row);
    store.tx(() => ops.stepStarted('op-1', 3))(row);
    store.tx(() => {
      const done = ops.stepDone('op-1', 3, 'z');
      const fin = ops.finish('op-1', 'succeeded');
      return (r: OperationRow) => (done(r), fin(r));
    })(row);
    same(store, row);
    expect(row).toMatchObject({ state: 'succeeded', nextStep: 4, undoStep: -1 });
  });
});
