import { describe, expect, it } from 'vitest';
import { ctx, NOW, smallReq, testNode } from '../testnode';
import { ready } from './ready';

describe('ready filter', () => {
  it('passes a node that heartbeated within the timeout', () => {
    expect(ready.filter(testNode('a', { lastHeartbeatMs: NOW - 14_999 }), smallReq, ctx())).toBeUndefined();
  });
  it('refuses a node silent longer than the timeout', () => {
    expect(ready.filter(testNode('a', { lastHeartbeatMs: NOW - 15_001 }), smallReq, ctx())).toBe('node down (no heartbeat)');
    expect(ready.filter(testNode('a', { lastHeartbeatMs: NOW - 15_001 }), smallReq, ctx({ config: { nodeTimeoutMs: 60_000 } }))).toBeUndefined();
  });
  it('refuses a cordoned (or draining) node', () => {
    expect(ready.filter(testNode('a', { cordoned: true }), smallReq, ctx())).toBe('node cordoned');
  });
});
