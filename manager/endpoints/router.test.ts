import { describe, expect, it } from 'vitest';
import { noteBackends } from './router';

describe('noteBackends', () => {
  it('keeps when an endpoint first lost its last server, and forgets it once one is ready again', () => {
    const since = new Map<string, number>();
    noteBackends(since, [{ name: 'a-rw', serversReady: 0 }, { name: 'a-ro', serversReady: 2 }], 1000);
    noteBackends(since, [{ name: 'a-rw', serversReady: 0 }], 5000);
    expect([...since]).toEqual([['a-rw', 1000]]);
    noteBackends(since, [{ name: 'a-rw', serversReady: 1 }], 6000);
    expect(since.size).toBe(0);
  });
});
