import { describe, expect, it } from 'vitest';
import type { CapacitySample } from '../store/capacity-history';
import type { FitResult } from './fit';
import { commonShapes, forecast, trend } from './forecast';

const G = 1024 ** 3;
const DAY = 86_400_000;

// A zone's hourly history over `days`: memory allocation growing `perDayG` GiB a day from
// `startG`, with noise of +-`noiseG` (a seeded generator: the test is the same every run).
function history(days: number, startG: number, perDayG: number, noiseG: number): CapacitySample[] {
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const t0 = Date.parse('2026-09-01T00:00:00Z');
  return Array.from({ length: days * 24 }, (_, h) => {
    const alloc = (startG + (perDayG * h) / 24 + noiseG * rnd()) * G;
    return {
      at: new Date(t0 + h * 3_600_000).toISOString(), scope: 'zone', name: 'a', instances: 0,
      cpu: { capacity: 64_000, allocated: 20_000, used: 5_000 },
      memory: { capacity: 1024 * G, allocated: alloc, used: alloc / 2 },
      disk: { capacity: 10_000 * G, allocated: 1000 * G, used: 500 * G },
    };
  });
}
const fitOf = (count: number, memoryG = 8): FitResult => ({ shape: { cpuMillis: 1000, memoryBytes: memoryG * G, diskBytes: 50 * G, zone: 'a' }, count, perNode: {}, limitedBy: 'memory', reasons: {}, truncated: false });

describe('capacity forecast', () => {
  it('a straight line: its slope per day, and no error when the points sit on it', () => {
    const pts = Array.from({ length: 10 }, (_, i) => ({ t: i * DAY, v: 100 + 3 * i }));
    expect(trend(pts)).toEqual({ perDay: 3, stderrPerDay: 0, samples: 10 });
    expect(trend(pts.slice(0, 2)).stderrPerDay).toBe(Infinity);
  });

  it('over a simulated 90 days (5 GiB a day, noisy): the days until an 8G instance is refused, with an interval around the truth', () => {
    const h = history(90, 300, 5, 20);
    // 40 more 8G instances fit now: 320 GiB at 5 GiB a day is 64 days.
    const f = forecast('zone', 'a', h, [fitOf(40)]);
    expect(f.windowDays).toBeCloseTo(90, 0);
    expect(f.growth.memory.perDay / G).toBeCloseTo(5, 0);
    expect(f.growth.cpu.perDay).toBe(0);
    const r = f.shapes[0]!;
    expect(r.perDay).toBeCloseTo(5 / 8, 1);
    expect(r.days).toBeGreaterThan(60);
    expect(r.days).toBeLessThan(68);
    expect(r.low!).toBeLessThan(64);
    expect(r.high!).toBeGreaterThan(64);
    // The same history over a week: wider, as it should be.
    const week = forecast('zone', 'a', h.slice(-7 * 24), [fitOf(40)]).shapes[0]!;
    expect(week.high! - week.low!).toBeGreaterThan(r.high! - r.low!);
  });

  it('a fleet that does not grow never runs out; one that shrinks neither', () => {
    expect(forecast('zone', 'a', history(30, 300, 0, 0), [fitOf(40)]).shapes[0]).toMatchObject({ perDay: 0, days: null, low: null, high: null });
    expect(forecast('zone', 'a', history(30, 300, -2, 0), [fitOf(40)]).shapes[0]!.days).toBeNull();
  });

  it('the common shapes are the most frequent ones', () => {
    const i = (cpuMillis: number, m: number) => ({ cpuMillis, memoryBytes: m * G, diskBytes: 20 * G });
    expect(commonShapes([i(1000, 4), i(2000, 8), i(2000, 8), i(500, 1), i(2000, 8), i(1000, 4)], 2)).toEqual([
      { cpuMillis: 2000, memoryBytes: 8 * G, diskBytes: 20 * G },
      { cpuMillis: 1000, memoryBytes: 4 * G, diskBytes: 20 * G },
    ]);
  });
});
