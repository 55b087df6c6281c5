import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/log';
import type { DockerEngine } from '../docker';
import type { Instances } from '../instance/lifecycle';
import { gtidWaitLimitMs, movementHandlers } from './handlers';

// An agent whose instance lookup takes `ms` (and then finds nothing): long enough to show which
// limit the WaitForGtid handler runs under, without a server.
function handlerTakingMs(ms: number) {
  const instances = { get: () => new Promise((r) => setTimeout(() => r(undefined), ms)) } as unknown as Instances;
  return movementHandlers({} as DockerEngine, instances, { node: 'n', disks: [] }, createLogger('test', 'silent')).WaitForGtid;
}

function call(h: grpc.handleUnaryCall<any, any>, request: object): Promise<{ code: number; details: string }> {
  const c = { request, getDeadline: () => Infinity, once() {}, off() {} } as unknown as grpc.ServerUnaryCall<any, any>;
  return new Promise((resolve) => h(c, (err) => resolve({ code: err?.code ?? 0, details: err?.details ?? '' })));
}

describe('WaitForGtid handler limit', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('follows the request: a 2-minute wait is not cut off at the default minute', async () => {
    vi.useFakeTimers();
    const answer = call(handlerTakingMs(90_000), { id: 'i-0123456789', gtidSet: '0-1-5', timeoutMs: 120_000 });
    await vi.advanceTimersByTimeAsync(90_001);
    // The lookup's own answer, not DEADLINE_EXCEEDED at 60 s.
    expect(await answer).toEqual({ code: grpc.status.NOT_FOUND, details: 'instance i-0123456789 is not on this node' });
  });

  it('a short or missing timeout keeps the default limit; a huge one is bounded', async () => {
    vi.useFakeTimers();
    const answer = call(handlerTakingMs(90_000), { id: 'i-0123456789', gtidSet: '0-1-5', timeoutMs: 0 });
    await vi.advanceTimersByTimeAsync(60_001);
    expect(await answer).toEqual({ code: grpc.status.DEADLINE_EXCEEDED, details: 'WaitForGtid did not finish within 60.0 s on the server' });
    expect(gtidWaitLimitMs(120_000)).toBe(130_000);
    expect(gtidWaitLimitMs(5_000)).toBe(60_000);
    expect(gtidWaitLimitMs(4_000_000_000)).toBe(3_600_000);
  });
});
