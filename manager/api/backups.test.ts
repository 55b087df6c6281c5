import { describe, expect, it } from 'vitest';
import { checkUntilGtid, pointInTime } from './backups';

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

describe('restore --until-gtid', () => {
  const uuid = '5a3d885d-f270-11f1-8909-f1d5593d2609';
  it("takes one GTID of the backup's flavor, never with a time", () => {
    expect(checkUntilGtid('mysql', ` ${uuid.toUpperCase()}:42 `, false)).toBe(`${uuid}:42`);
    expect(checkUntilGtid('mariadb', '0-1-42', false)).toBe('0-1-42');
    // A set, a range, the other flavor's form, zero, junk: refused.
    for (const [flavor, bad] of [['mysql', `${uuid}:1-42`], ['mysql', `${uuid}:42,${uuid}:43`], ['mysql', '0-1-42'], ['mysql', `${uuid}:0`], ['mariadb', `${uuid}:42`], ['mariadb', '0-1-42,1-1-3'], ['mariadb', '0-1'], ['mariadb', "0-1-1'; DROP"]] as const) {
      expect(() => checkUntilGtid(flavor, bad, false), `${flavor} ${bad}`).toThrow(/is not one .* GTID/);
    }
    expect(() => checkUntilGtid('mariadb', '0-1-42', true)).toThrow(/not both/);
  });
});
