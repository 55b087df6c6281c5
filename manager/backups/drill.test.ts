import { describe, expect, it } from 'vitest';
import { randomPoint } from './drill';

describe('a drill\'s point in time', () => {
  const done = '2026-12-08T10:00:00.400Z';
  const now = Date.parse('2026-12-08T10:00:10.700Z');

  it('is a whole second strictly after the backup completed and before now', () => {
    for (const r of [0, 0.5, 0.999999]) {
      const t = randomPoint(done, now, () => r)!;
      expect(t.getTime() % 1000).toBe(0);
      expect(t.getTime()).toBeGreaterThan(Date.parse(done) + 1000);
      expect(t.getTime()).toBeLessThan(now);
    }
    expect(randomPoint(done, now, () => 0)!.toISOString()).toBe('2026-12-08T10:00:02.000Z');
    expect(randomPoint(done, now, () => 0.999999)!.toISOString()).toBe('2026-12-08T10:00:09.000Z');
  });

  it('is none when the backup is too recent or has no completion time', () => {
    expect(randomPoint(done, Date.parse('2026-12-08T10:00:02.900Z'))).toBeUndefined();
    expect(randomPoint('', now)).toBeUndefined();
  });
});
