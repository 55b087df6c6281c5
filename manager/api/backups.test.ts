import { describe, expect, it } from 'vitest';
import { pointInTime } from './backups';

describe('restore --to', () => {
  it('takes UTC "YYYY-MM-DD HH:MM:SS" or ISO 8601 in whole seconds, never the future', () => {
    expect(pointInTime('2026-12-07 10:41:07').toISOString()).toBe('2026-12-07T10:41:07.000Z');
    expect(pointInTime('2026-12-07T10:41:07Z').toISOString()).toBe('2026-12-07T10:41:07.000Z');
    expect(pointInTime('2026-12-07T12:41:07+02:00').toISOString()).toBe('2026-12-07T10:41:07.000Z');
    expect(() => pointInTime('2026-12-07 10:41:07.5')).toThrow(/whole seconds/);
    expect(() => pointInTime('yesterday')).toThrow(/is not a time/);
    expect(() => pointInTime('2026-13-07 10:41:07')).toThrow(/is not a time/);
    expect(() => pointInTime('2999-01-01 00:00:00')).toThrow(/in the future/);
  });
});
