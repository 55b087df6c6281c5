import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { Store } from '../store/index';
import { Engine, type Step } from './engine';

const log = createLogger('test', 'silent');

function setup(steps: Step[], failed?: (id: string, err: string, clean: boolean) => void) {
  const store = Store.open(':memory:');
  const engine = new Engine(store, log);
  engine.register({ type: 't', steps, failed });
  return { store, engine };
}

describe('Engine', () => {
  it('runs steps in order and records each one', async () => {
    const calls: string[] = [];
    const step = (name: string): Step => ({ name, run: async (id) => void calls.push(`${name}:${id}`) });
    const { store, engine } = setup([step('a'), step('b'), step('c')]);
    store.operations.insert('op1', 't', 'i1', engine.stepNames('t'));
    engine.start('op1');
    const op = await engine.wait('op1', 5000);
    expect(calls).toEqual(['a:i1', 'b:i1', 'c:i1']);
    expect(op).toMatchObject({ state: 'succeeded', nextStep: 3 });
    expect(op!.steps.map((s) => s.state)).toEqual(['done', 'done', 'done']);
    expect(op!.steps.every((s) => s.startedAt && s.finishedAt)).toBe(true);
  });

  it('undoes the failed step and the ones before it, in reverse', async () => {
    const calls: string[] = [];
    const failures: [string, boolean][] = [];
    const { store, engine } = setup(
      [
        { name: 'a', run: async () => void calls.push('a'), undo: async () => void calls.push('undo a') },
        { name: 'b', run: async () => void calls.push('b') },
        { name: 'c', run: async () => Promise.reject(new Error('boom')), undo: async () => void calls.push('undo c') },
        { name: 'd', run: async () => void calls.push('d') },
      ],
      (_id, err, clean) => failures.push([err, clean]),
    );
    store.operations.insert('op1', 't', 'i1', engine.stepNames('t'));
    engine.start('op1');
    const op = await engine.wait('op1', 5000);
    expect(calls).toEqual(['a', 'b', 'undo c', 'undo a']);
    expect(op).toMatchObject({ state: 'failed', error: 'c: boom' });
    expect(op!.steps.map((s) => s.state)).toEqual(['undone', 'done', 'failed', 'pending']);
    expect(failures).toEqual([['c: boom', true]]);
  });

  it('reports an undo that failed, and stops undoing there', async () => {
    const failures: [string, boolean][] = [];
    const calls: string[] = [];
    const { store, engine } = setup(
      [
        { name: 'a', run: async () => {}, undo: async () => void calls.push('undo a') },
        { name: 'b', run: async () => Promise.reject(new Error('boom')), undo: async () => Promise.reject(new Error('node gone')) },
      ],
      (_id, err, clean) => failures.push([err, clean]),
    );
    store.operations.insert('op1', 't', 'i1', engine.stepNames('t'));
    engine.start('op1');
    const op = await engine.wait('op1', 5000);
    expect(op!.error).toBe('b: boom; undo b: node gone');
    expect(calls).toEqual([]);
    expect(failures).toEqual([['b: boom; undo b: node gone', false]]);
  });

  it('resumes a running operation at its recorded step', async () => {
    const calls: string[] = [];
    const step = (name: string): Step => ({ name, run: async () => void calls.push(name) });
    const { store, engine } = setup([step('a'), step('b'), step('c')]);
    // As a manager that died after finishing step a would have left it.
    store.operations.insert('op1', 't', 'i1', engine.stepNames('t'), 1);
    expect(engine.resumeAll()).toBe(1);
    const op = await engine.wait('op1', 5000);
    expect(calls).toEqual(['b', 'c']);
    expect(op!.state).toBe('succeeded');
  });

  it('runs operations on one instance one at a time, in order', async () => {
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { store, engine } = setup([
      {
        name: 'only',
        run: async (id) => {
          log.push(`start ${id}`);
          if (log.length === 1) await gate;
          log.push(`end ${id}`);
        },
      },
    ]);
    store.operations.insert('op1', 't', 'same', ['only']);
    store.operations.insert('op2', 't', 'same', ['only']);
    engine.start('op1');
    engine.start('op2');
    await new Promise((r) => setImmediate(r));
    expect(log).toEqual(['start same']);
    expect(engine.busy('same')).toBe(true);
    release();
    await engine.wait('op2', 5000);
    expect(log).toEqual(['start same', 'end same', 'start same', 'end same']);
  });
});
