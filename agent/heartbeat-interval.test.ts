import { describe, expect, it } from 'vitest';
import { heartbeatInterval } from './heartbeat-interval';

describe('heartbeatInterval', () => {
  it("keeps the manager's interval on a node without leased primaries", () => {
    expect(heartbeatInterval(2000, undefined)).toBe(2000);
    expect(heartbeatInterval(2000, { leaseMs: 2000, instanceIds: [] })).toBe(2000);
    expect(heartbeatInterval(2000, { leaseMs: 0, instanceIds: ['i-1'] })).toBe(2000);
  });

  it('beats three times per lease on a node holding a leased primary, so two lost beats never fence it', () => {
    expect(heartbeatInterval(2000, { leaseMs: 2000, instanceIds: ['i-1'] })).toBe(666);
    expect(heartbeatInterval(2000, { leaseMs: 4000, instanceIds: ['i-1'] })).toBe(1333);
  });

  it("never slower than the manager's interval nor faster than 250 ms", () => {
    expect(heartbeatInterval(2000, { leaseMs: 60_000, instanceIds: ['i-1'] })).toBe(2000);
    expect(heartbeatInterval(2000, { leaseMs: 300, instanceIds: ['i-1'] })).toBe(250);
  });
});
