import { describe, expect, it } from 'vitest';
import type { Operation__Output } from '../gen/berth/v1/Operation';
import { ProgressLine } from './watch';

const M = 1024 ** 2;
const op = (bytesDone: number, state = 'running'): Operation__Output =>
  ({
    id: 'op-1', type: 'migrate', state,
    steps: [{ name: 'copy', state: 'running' }, { name: 'cut-over', state: 'pending' }],
    progress: { bytesDone, bytesTotal: 100 * M, phase: 'copying' },
  }) as unknown as Operation__Output;

describe('ProgressLine', () => {
  it('says the step, the phase, the bytes and, from two updates, the rate and the time left', () => {
    const line = new ProgressLine();
    expect(line.text(op(10 * M), 0)).toBe('op-1 migrate: running, step 1/2 copy, copying, 10M of 100M (10%)');
    expect(line.text(op(30 * M), 1000)).toBe('op-1 migrate: running, step 1/2 copy, copying, 30M of 100M (30%), 20M/s, ETA 4 s');
  });

  it('an operation without progress is its state and step only', () => {
    const o = { id: 'op-2', type: 'create', state: 'succeeded', steps: [{ name: 'create-container', state: 'done' }], progress: null } as unknown as Operation__Output;
    expect(new ProgressLine().text(o)).toBe('op-2 create: succeeded');
  });
});
