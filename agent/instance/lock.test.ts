import { describe, expect, it } from 'vitest';
import { InstanceLock } from './lock';

describe('InstanceLock', () => {
  it('runs calls on one instance one after another, even after a failure, and others at once', async () => {
    const lock = new InstanceLock();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = lock.run('a', async () => (log.push('a1 start'), await gate, log.push('a1 end'), Promise.reject(new Error('a1 failed'))));
    const a2 = lock.run('a', async () => void log.push('a2'));
    const b = lock.run('b', async () => void log.push('b'));
    await b;
    expect(log).toEqual(['a1 start', 'b']);
    expect(lock.busy('a')).toBe(true);
    release();
    await expect(a1).rejects.toThrow('a1 failed');
    await a2;
    expect(log).toEqual(['a1 start', 'b', 'a1 end', 'a2']);
    await new Promise((r) => setImmediate(r));
    expect(lock.busy('a')).toBe(false);
  });
});
