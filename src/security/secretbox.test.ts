import { describe, expect, it } from 'vitest';
import { newKey, SecretBox } from './secretbox';

const ROW = 'instances.admin_password:i-1';

describe('SecretBox', () => {
  it('seals so that the value is not readable and opens it again', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('s3cret-Pa55', ROW);
    expect(sealed).not.toContain('s3cret');
    expect(sealed).toMatch(/^enc:v2:k[0-9a-f]{8}:/);
    expect(box.open(sealed, ROW)).toBe('s3cret-Pa55');
    expect(box.seal('x', ROW)).not.toBe(box.seal('x', ROW));
  });

  it('refuses a tampered value and a value sealed with an unknown key', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('hello', ROW);
    const parts = sealed.split(':');
    parts[5] = Buffer.from('jello').toString('base64url');
    expect(() => box.open(parts.join(':'), ROW)).toThrow();
    expect(() => new SecretBox(newKey()).open(sealed, ROW)).toThrow(/does not hold/);
  });

  it('opens a value only in the row it was sealed for', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('pw', ROW);
    expect(() => box.open(sealed, 'instances.admin_password:i-2')).toThrow(/sealed for another row/);
    expect(() => box.open(sealed, 'clusters.repl_password:i-1')).toThrow(/sealed for another row/);
  });

  it('refuses truncated tags (GCM would check only their bytes)', () => {
    const box = new SecretBox(newKey());
    const parts = box.seal('pw', ROW).split(':');
    for (const n of [4, 8, 12, 15]) {
      const short = [...parts];
      short[4] = Buffer.from(parts[4]!, 'base64url').subarray(0, n).toString('base64url');
      expect(() => box.open(short.join(':'), ROW)).toThrow(/tag/);
    }
  });

  it('opens values of an older key it was given, seals with the new one', () => {
    const old = newKey();
    const sealed = new SecretBox(old).seal('pw', ROW);
    const rotated = new SecretBox(newKey(), [old]);
    expect(rotated.open(sealed, ROW)).toBe('pw');
    expect(rotated.sealedWithCurrent(sealed)).toBe(false);
    expect(rotated.sealedWithCurrent(rotated.seal('pw', ROW))).toBe(true);
  });

  it('passes plain text (rows from before encryption) through open', () => {
    expect(new SecretBox(newKey()).open('plain', ROW)).toBe('plain');
  });
});
