import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { UsageMap } from '../state/usage';
import { Store } from '../store/index';
import { computeCapacity } from './compute';
import { FitPool } from './fit-pool';
import { CapacityRecorder, KEEP_MINUTES_MS, rollup, samplesOf } from './history';

const G = 1024 ** 3;
const HOUR = 3_600_000;

function fleet() {
  const store = new Store(Store.open(':memory:').db);
  const base = { host: '127.0.0.1', cpuMillis: 16000, memoryBytes: 32 * G, portMin: 3301, portMax: 3399, busyPorts: [], agentVersion: '', dockerVersion: '' };
  const disks = [{ path: '/d', totalBytes: 500 * G, freeBytes: 500 * G }];
  store.nodes.register({ ...base, name: 'a1', agentAddress: 'x:1', labels: { zone: 'a' }, lastHeartbeatMs: Date.now(), disks });
  store.nodes.register({ ...base, name: 'b1', agentAddress: 'x:2', labels: { zone: 'b' }, lastHeartbeatMs: Date.now(), disks });
  let n = 0;
  const add = (node: string) =>
    store.instances.insert({ id: `i-${String(++n).padStart(10, '0')}`, name: `db${n}`, serverId: n, node, diskPath: '/d', port: 3300 + n, cpuMillis: 1000, memoryBytes: 4 * G, diskBytes: 20 * G, image: 'x', state: 'running', adminUser: 'admin', adminPassword: 'pw' });
  add('a1');
  let snapshot = Snapshot.fromStore(store.nodes.all(), store.instances.all());
  const recorder = new CapacityRecorder({
    store,
    report: () => computeCapacity(snapshot.nodes(), store.instances.all(), new UsageMap(), DEFAULT_SCHEDULER_CONFIG, Date.now()),
    nodes: () => snapshot.nodes(),
    scheduler: DEFAULT_SCHEDULER_CONFIG,
    pool: new FitPool(),
    log: createLogger('test', 'silent'),
  });
  const grow = (node: string) => {
    add(node);
    snapshot = Snapshot.fromStore(store.nodes.all(), store.instances.all());
  };
  return { store, recorder, grow };
}

describe('capacity history', () => {
  it('a sample of the fleet and of each zone a minute; each finished hour rolled up into its mean; old minutes dropped', async () => {
    const { store, recorder, grow } = fleet();
    const t0 = Date.parse('2026-12-07T10:00:00Z');
    for (let m = 0; m < 90; m++) {
      if (m === 30) grow('a1'); // a second 4G instance half way through the first hour
      recorder.sample(t0 + m * 60_000);
    }
    const h = store.capacityHistory;
    expect(h.series('1m')).toEqual([{ scope: 'fleet', name: '' }, { scope: 'zone', name: 'a' }, { scope: 'zone', name: 'b' }]);
    expect(h.range('1m', 'zone', 'a', '2026-12-07T10:00:00.000Z', '2026-12-07T12:00:00.000Z')).toHaveLength(90);
    const hour = h.range('1h', 'zone', 'a', '2026-12-07T00:00:00.000Z', '2026-12-08T00:00:00.000Z');
    expect(hour.map((x) => x.at)).toEqual(['2026-12-07T10:00:00.000Z']);
    // 30 minutes at 4G, 30 at 8G.
    expect(hour[0]!.memory.allocated / G).toBeCloseTo(6, 5);
    expect(hour[0]!.memory.capacity / G).toBe(32);
    // A day later the minutes of that day are gone, its hours are not.
    recorder.sample(t0 + KEEP_MINUTES_MS + 2 * HOUR);
    expect(h.range('1m', 'zone', 'a', '2026-12-07T10:00:00.000Z', '2026-12-07T12:00:00.000Z')).toEqual([]);
    expect(h.range('1h', 'zone', 'a', '2026-12-07T00:00:00.000Z', '2026-12-08T00:00:00.000Z').map((x) => x.at)).toContain('2026-12-07T10:00:00.000Z');
  });

  it('rollup and samplesOf are plain functions of their input', () => {
    const { recorder } = fleet();
    void recorder;
    const s = (alloc: number) => ({ at: 'x', scope: 'zone' as const, name: 'a', instances: 1, cpu: { capacity: 1, allocated: alloc, used: 0 }, memory: { capacity: 1, allocated: 0, used: 0 }, disk: { capacity: 1, allocated: 0, used: 0 } });
    expect(rollup([s(1), s(3)], '2026-12-07T10:00:00.000Z')).toMatchObject({ at: '2026-12-07T10:00:00.000Z', cpu: { allocated: 2 } });
  });

  it('forecasts the fleet and each zone from their history and the scheduler fit of their common shape', async () => {
    const { store, recorder, grow } = fleet();
    const t0 = Date.parse('2026-12-07T00:00:00Z');
    // Zone a gains a 4G instance every 2 hours for 8 hours; b stays empty.
    for (let m = 0; m <= 8 * 60; m += 10) {
      if (m > 0 && m % 120 === 0) grow('a1');
      recorder.sample(t0 + m * 60_000);
    }
    const f = await recorder.refreshForecast(t0 + 8 * HOUR);
    expect(f.map((x) => `${x.scope}:${x.name}`)).toEqual(['fleet:', 'zone:a', 'zone:b']);
    const a = f.find((x) => x.name === 'a')!;
    // 2 GiB an hour is 48 GiB a day; a1 has 32G and holds 5 x 4G now: 3 more fit, 12 a day.
    expect(a.growth.memory.perDay / G).toBeGreaterThan(40);
    expect(a.shapes[0]).toMatchObject({ shape: { memoryBytes: 4 * G, zone: 'a' }, fitsNow: 3, limitedBy: 'memory' });
    expect(a.shapes[0]!.days!).toBeGreaterThan(0.1);
    expect(a.shapes[0]!.days!).toBeLessThan(0.5);
    // Zone b has no instance, so no common shape to ask about; the fleet's shape fits in both.
    expect(f.find((x) => x.name === 'b')!.shapes).toEqual([]);
    expect(f.find((x) => x.scope === 'fleet')!.shapes[0]!.fitsNow).toBe(3 + 8);
    expect(recorder.forecasts()).toBe(f);
    void store;
  });
});
