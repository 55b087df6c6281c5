import { describe, expect, it } from 'vitest';
import { noteBackends, routersToAwait, SILENT_ROUTER_MS } from './router';

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

describe('routersToAwait', () => {
  it('waits for routers heard from recently or never judged, not for one silent past the threshold', () => {
    const beats: Record<string, number | undefined> = { fresh: 10_000, edge: 10_000 - SILENT_ROUTER_MS + 1000, silent: 10_000 - SILENT_ROUTER_MS - 1, unknown: undefined };
    expect(routersToAwait(['fresh', 'edge', 'silent', 'unknown'], (n) => beats[n], 11_000)).toEqual(['fresh', 'edge', 'unknown']);
  });
});
