import { describe, expect, it } from 'vitest';
import { atLeast, LAST_SEEN_PERSIST_MS, lastSeenDue, type Seen } from './last-seen';

const A = 'aaaaaaaa-0000-0000-0000-000000000001';
const B = 'bbbbbbbb-0000-0000-0000-000000000002';
const mysql = (executedGtids: string, more: Partial<Seen> = {}): Seen => ({ serverUuid: A, serverId: 1, executedGtids, role: 'primary', seenAtMs: 1000, ...more });

describe('lastSeenDue', () => {
  it('writes the first sight, and a changed identity or role at once', () => {
    expect(lastSeenDue('mysql', undefined, mysql(`${A}:1-5`))).toBe(true);
    expect(lastSeenDue('mysql', mysql(`${A}:1-5`), mysql(`${A}:1-5`, { serverUuid: B, seenAtMs: 1001 }))).toBe(true);
    expect(lastSeenDue('mysql', mysql(`${A}:1-5`, { role: 'replica' }), mysql(`${A}:1-5`, { seenAtMs: 1001 }))).toBe(true);
  });

  it("a primary's own new transactions wait for the period; the same set is never written again", () => {
    const stored = mysql(`${B}:1-9,${A}:1-5`);
    expect(lastSeenDue('mysql', stored, mysql(`${B}:1-9,${A}:1-5`, { seenAtMs: 1000 + 10 * LAST_SEEN_PERSIST_MS }))).toBe(false);
    expect(lastSeenDue('mysql', stored, mysql(`${B}:1-9,${A}:1-500`, { seenAtMs: 1000 + LAST_SEEN_PERSIST_MS - 1 }))).toBe(false);
    expect(lastSeenDue('mysql', stored, mysql(`${B}:1-9,${A}:1-500`, { seenAtMs: 1000 + LAST_SEEN_PERSIST_MS }))).toBe(true);
  });

  it("a primary's set gaining another origin's transactions (applied before its promotion) is written at once", () => {
    expect(lastSeenDue('mysql', mysql(`${B}:1-9,${A}:1-5`), mysql(`${B}:1-12,${A}:1-5`, { seenAtMs: 1001 }))).toBe(true);
    // A replica's set moves with its source: the period.
    expect(lastSeenDue('mysql', mysql(`${B}:1-9`, { role: 'replica' }), mysql(`${B}:1-12`, { role: 'replica', seenAtMs: 1001 }))).toBe(false);
  });

  it('MariaDB: the domain the primary writes last is its own; a domain last written by another server is not', () => {
    const seen = (executedGtids: string, seenAtMs = 1001): Seen => ({ serverUuid: '', serverId: 7, executedGtids, role: 'primary', seenAtMs });
    expect(lastSeenDue('mariadb', seen('0-7-40,1-3-5', 1000), seen('0-7-90,1-3-5'))).toBe(false);
    expect(lastSeenDue('mariadb', seen('0-3-40', 1000), seen('0-7-41'))).toBe(true);
    expect(lastSeenDue('mariadb', seen('0-7-40,1-3-5', 1000), seen('0-7-40,1-3-6'))).toBe(true);
  });
});

describe('atLeast', () => {
  it("a report from before the cut-over still counts the old primary's last transactions the promotion waited for", () => {
    // Caught up to B:1-3309 when the probe last read it; the cut-over's final set was B:1-3324.
    expect(atLeast('mysql', `${B}:1-3309,${A}:1-20`, `${B}:1-3324`)).toBe(`${A}:1-20,${B}:1-3324`);
    expect(atLeast('mariadb', '0-2-3309', '0-2-3324')).toBe('0-2-3324');
  });

  it('either one alone, and an unreadable report passed on as it is', () => {
    expect(atLeast('mysql', `${A}:1-5`, '')).toBe(`${A}:1-5`);
    expect(atLeast('mysql', '', `${A}:1-5`)).toBe(`${A}:1-5`);
    expect(atLeast('mysql', 'nonsense', `${A}:1-5`)).toBe('nonsense');
  });
});
