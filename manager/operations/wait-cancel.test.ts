import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { Store } from '../store/index';
import { testEngine } from '../../test/harness/operation-types';

const never = () => new Promise<never>(() => undefined);

describe('Engine.wait', () => {
  it('stops listening as soon as the waiter goes away, and leaves no listener behind', async () => {
    const engine = testEngine(Store.open(':memory:'), createLogger('test', 'silent'), [{ type: 'slow', steps: [{ name: 'hang', run: never }] }]);
    const id = (await engine.submit('slow', { subjects: [{ kind: 'instance', name: 'i1' }] })).id;
    const waiters = Array.from({ length: 50 }, () => new AbortController());
    const pending = waiters.map((w) => engine.wait(id, 60_000, w.signal));
    expect(engine.waiters(id)).toBe(50);
    for (const w of waiters) w.abort();
    const ops = await Promise.all(pending);
    expect(ops.every((o) => o?.state === 'running')).toBe(true);
    expect(engine.waiters(id)).toBe(0);
    // Already cancelled before it started: returns at once, adds nothing.
    const gone = new AbortController();
    gone.abort();
    await engine.wait(id, 60_000, gone.signal);
    expect(engine.waiters(id)).toBe(0);
  });
});
