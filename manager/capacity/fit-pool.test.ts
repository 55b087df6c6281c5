import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { FitPool } from './fit-pool';

const job = () => ({ nodes: [], shapes: [{ cpuMillis: 1000, memoryBytes: 2 ** 30, diskBytes: 2 ** 30 }], now: Date.now(), config: DEFAULT_SCHEDULER_CONFIG });

describe('FitPool', () => {
  it('refuses requests past its queue at once, and makes each job (a fleet copy) only when its turn comes', async () => {
    const pool = new FitPool(2);
    let made = 0;
    const make = () => (made++, job());
    const runs = Array.from({ length: 6 }, () => pool.run(make));
    // Nobody holds a copy of the fleet while waiting.
    expect(made).toBe(0);
    // One running and two waiting are taken; the other three are refused without waiting.
    const settled = await Promise.allSettled(runs);
    const refused = settled.filter((s) => s.status === 'rejected');
    expect(refused).toHaveLength(3);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: grpc.status.UNAVAILABLE, message: expect.stringMatching(/already queued/) });
    expect(made).toBe(3);
    expect(pool.pending).toBe(0);
    // Drained: new requests are taken again.
    await expect(pool.run(make)).resolves.toHaveLength(1);
  });
});
