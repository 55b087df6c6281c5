import { describe, expect, it } from 'vitest';
import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';
import { planBeat, reportKey } from './heartbeat-delta';

const G = 1024 ** 3;
const inst = (id: string, over: Partial<AgentInstance> = {}): AgentInstance => ({
  id, name: id, state: 'running', containerId: `c-${id}`, port: 3301, diskPath: '/d', image: 'img', flavor: 'mariadb', version: '10.11',
  resources: { cpuMillis: 1000, memoryBytes: G, diskBytes: 10 * G }, usedDiskBytes: 3 * G, usedMemoryBytes: G / 2, usedCpuMillis: 100, usageMeasuredAtMs: 1000, ...over,
});
const keysOf = (xs: AgentInstance[]) => new Map(xs.map((i) => [i.id!, reportKey(i)]));

describe('quiet heartbeats', () => {
  it('send nothing but what changed since the acknowledged report, and the ids gone', () => {
    const before = [inst('a'), inst('b'), inst('c')];
    const acked = keysOf(before);
    const now = [inst('a', { usedDiskBytes: 3 * G + 1000, usageMeasuredAtMs: 2000 }), inst('b', { state: 'stopped' }), inst('d')];
    const p = planBeat(acked, now, keysOf(now), true);
    expect(p).toEqual({ delta: true, instances: [now[1], now[2]], removed: ['c'] });
    expect(planBeat(acked, before, keysOf(before), true)).toEqual({ delta: true, instances: [], removed: [] });
  });

  it('usage counts once it moves by a step: 1% of the disk or memory reservation, 5% of the CPU limit', () => {
    const k = reportKey(inst('a'));
    expect(reportKey(inst('a', { usedDiskBytes: 3 * G + 50 * 2 ** 20 }))).toBe(k);
    expect(reportKey(inst('a', { usedDiskBytes: 3 * G + 110 * 2 ** 20 }))).not.toBe(k);
    expect(reportKey(inst('a', { usedMemoryBytes: G / 2 + 20 * 2 ** 20 }))).not.toBe(k);
    expect(reportKey(inst('a', { usedCpuMillis: 160 }))).not.toBe(k);
    expect(reportKey(inst('a', { mysqldUnresponsive: true }))).not.toBe(k);
    expect(reportKey(inst('a', { resources: { cpuMillis: 2000, memoryBytes: G, diskBytes: 10 * G } }))).not.toBe(k);
  });

  it('a full report without an acknowledged one or when deltas are not allowed; replication state always goes', () => {
    const xs = [inst('a'), inst('b', { replication: { measuredAtMs: 5, mysqldUp: true } })];
    expect(planBeat(undefined, xs, keysOf(xs), true)).toEqual({ delta: false, instances: xs, removed: [] });
    expect(planBeat(keysOf(xs), xs, keysOf(xs), false)).toEqual({ delta: false, instances: xs, removed: [] });
    expect(planBeat(keysOf(xs), xs, keysOf(xs), true)).toEqual({ delta: true, instances: [xs[1]], removed: [] });
  });
});
