import { describe, expect, it } from 'vitest';
import { normalSerial, Revocations } from './revocation';

describe('Revocations', () => {
  it('reads serials however they were typed', () => {
    expect(normalSerial('serial=00A1B2')).toBe('A1B2');
    expect(normalSerial('0a:1b:2c')).toBe('A1B2C');
    expect(normalSerial('0')).toBe('0');
    expect(() => normalSerial('xyz')).toThrow(/not a certificate serial/);
    expect(() => normalSerial('')).toThrow();
  });

  it('revokes one serial, or every certificate of a name issued up to a time', () => {
    const r = new Revocations();
    expect(r.loaded).toBe(false);
    r.apply({ version: 3, serials: ['0a:bc'], names: [{ kind: 'node', name: 'db-a1', issuedBeforeMs: 2_000_000 }] });
    expect(r.loaded).toBe(true);
    expect(r.version).toBe(3);
    expect(r.why({ serial: 'ABC', kind: 'admin', name: 'alice', notBeforeMs: 5 })).toMatch(/ABC .* is revoked/);
    expect(r.why({ serial: 'ABD', kind: 'admin', name: 'alice', notBeforeMs: 5 })).toBeUndefined();
    expect(r.why({ serial: '1', kind: 'node', name: 'db-a1', notBeforeMs: 2_000_000 })).toMatch(/issued up to/);
    // Re-issued afterwards: valid again.
    expect(r.why({ serial: '2', kind: 'node', name: 'db-a1', notBeforeMs: 2_001_000 })).toBeUndefined();
    // Another kind with the same name is another identity.
    expect(r.why({ serial: '3', kind: 'mysql', name: 'db-a1', notBeforeMs: 1 })).toBeUndefined();
    r.apply({ version: 4, serials: [], names: [] });
    expect(r.why({ serial: 'ABC', kind: 'admin', name: 'alice', notBeforeMs: 5 })).toBeUndefined();
  });
});
