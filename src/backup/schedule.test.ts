import { describe, expect, it } from 'vitest';
import { CronCache, cronPeriodMs, isDue, lastSlotMs, nextSlotMs, spreadOffsetMs, validateCron } from './schedule';

const T = (s: string) => Date.parse(s);
const ids = Array.from({ length: 500 }, (_, i) => `i-${(i * 7919).toString(16).padStart(12, '0')}`);
const HOUR = 3600_000;

describe('spread', () => {
  it('gives 500 instances starts spread evenly over the window, none outside it', () => {
    const offs = ids.map((id) => spreadOffsetMs(id, HOUR));
    expect(Math.min(...offs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...offs)).toBeLessThan(HOUR);
    // Ten 6-minute buckets: each holds about 50; a clumped hash (or none) fails this.
    const buckets = new Array(10).fill(0);
    for (const o of offs) buckets[Math.floor(o / (HOUR / 10))]++;
    for (const b of buckets) expect(b).toBeGreaterThan(25), expect(b).toBeLessThan(80);
    // No more than a handful start in the same minute.
    const perMinute = new Map<number, number>();
    for (const o of offs) perMinute.set(Math.floor(o / 60_000), (perMinute.get(Math.floor(o / 60_000)) ?? 0) + 1);
    expect(Math.max(...perMinute.values())).toBeLessThanOrEqual(20);
  });

  it('is stable: the same id gets the same offset every time', () => {
    for (const id of ids.slice(0, 20)) expect(spreadOffsetMs(id, HOUR)).toBe(spreadOffsetMs(id, HOUR));
    expect(spreadOffsetMs('i-a', 0)).toBe(0);
  });

  it('daily at 02:00 with a 1 h window: the 500 slots fall between 02:00 and 03:00', () => {
    const now = T('2026-12-08T04:00:00Z');
    const slots = ids.map((id) => lastSlotMs('0 2 * * *', id, HOUR, now)!);
    for (const s of slots) expect(s).toBeGreaterThanOrEqual(T('2026-12-08T02:00:00Z')), expect(s).toBeLessThan(T('2026-12-08T03:00:00Z'));
    expect(new Set(slots).size).toBeGreaterThan(450);
  });

  it('a round shares one parse per schedule: the slots are the same with and without the cache', () => {
    const now = T('2026-12-08T02:30:00Z');
    const cache = new CronCache(now);
    for (const id of ids) {
      expect(lastSlotMs('0 2 * * *', id, HOUR, now, cache)).toBe(lastSlotMs('0 2 * * *', id, HOUR, now));
      expect(nextSlotMs('0 2 * * *', id, HOUR, now, cache)).toBe(nextSlotMs('0 2 * * *', id, HOUR, now));
      const s = lastSlotMs('0 2 * * *', id, HOUR, now)!;
      // Before 02:30 the slot is today's when the offset is under 30 minutes, else yesterday's.
      expect(s).toBe(spreadOffsetMs(id, HOUR) <= 30 * 60_000 ? T('2026-12-08T02:00:00Z') + spreadOffsetMs(id, HOUR) : T('2026-12-07T02:00:00Z') + spreadOffsetMs(id, HOUR));
    }
  });

  it('caps the window at the schedule period', () => {
    expect(cronPeriodMs('*/10 * * * * *', T('2026-12-08T00:00:00Z'))).toBe(10_000);
    const now = T('2026-12-08T00:01:00Z');
    for (const id of ids.slice(0, 50)) {
      const s = lastSlotMs('*/10 * * * * *', id, HOUR, now)!;
      expect(now - s).toBeLessThan(10_000);
      expect(nextSlotMs('*/10 * * * * *', id, HOUR, now) - s).toBe(10_000);
    }
  });
});

describe('due', () => {
  const base = { schedule: '0 2 * * *', spreadMs: HOUR, id: ids[3]!, sinceMs: T('2026-12-01T00:00:00Z') };
  const slot = lastSlotMs('0 2 * * *', ids[3]!, HOUR, T('2026-12-08T12:00:00Z'))!;

  it('is due once the slot passed and not before', () => {
    expect(isDue({ ...base, lastRunMs: 0, now: slot - 1 + 0 })).toBe(true); // the previous day's slot
    expect(isDue({ ...base, lastRunMs: slot - 24 * HOUR, now: slot - 1 })).toBe(false);
    expect(isDue({ ...base, lastRunMs: slot - 24 * HOUR, now: slot })).toBe(true);
  });

  it('is not due again after it ran for the slot, nor for slots missed while down (one run)', () => {
    expect(isDue({ ...base, lastRunMs: slot + 5000, now: slot + 6 * HOUR })).toBe(false);
    expect(isDue({ ...base, lastRunMs: slot - 5 * 24 * HOUR, now: slot + HOUR })).toBe(true);
  });

  it('is never due for a slot before the policy existed', () => {
    expect(isDue({ ...base, sinceMs: slot + 1, lastRunMs: 0, now: slot + HOUR })).toBe(false);
  });

  it('refuses what is not cron', () => {
    expect(validateCron('0 2 * * *')).toBeUndefined();
    expect(validateCron('*/5 * * * * *')).toBeUndefined();
    expect(validateCron('at two')).toMatch(/not a cron expression/);
    expect(validateCron('61 * * * *')).toMatch(/not a cron expression/);
  });
});
