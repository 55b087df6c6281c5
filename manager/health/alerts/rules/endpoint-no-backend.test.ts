import { describe, expect, it } from 'vitest';
import { endpointNoBackend } from './endpoint-no-backend';
import type { HealthState } from '../types';

const state = (now: number, e: NonNullable<HealthState['endpoints']>) => ({ now, nodes: [], instances: [], endpoints: e }) as unknown as HealthState;

describe('endpoint_no_backend', () => {
  it('fires after 30 s without a backend: critical for rw and an instance, a warning for ro', () => {
    const rw = { name: 'orders-rw', kind: 'rw' as const, owner: 'orders', node: 'a', port: 4401, sinceMs: 0 };
    const ro = { ...rw, name: 'orders-ro', kind: 'ro' as const };
    // A failover's closure (a few seconds) is not an alert.
    expect(endpointNoBackend.evaluate(state(29_999, [rw, ro]))).toEqual([]);
    const f = endpointNoBackend.evaluate(state(30_000, [rw, ro, { ...rw, name: 'db1', kind: 'instance', owner: 'i-1', sinceMs: 10_000 }]));
    expect(f.map((x) => [x.subject, x.severity])).toEqual([['orders-rw', 'critical'], ['orders-ro', 'warning']]);
    expect(f[0]!.message).toMatch(/orders-rw \(rw of orders, a:4401\) has had no backend for 30 s/);
  });
});
