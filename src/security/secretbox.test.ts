import { describe, expect, it } from 'vitest';
import { newKey, SecretBox } from './secretbox';

describe('SecretBox', () => {
  it('seals so that the value is not readable and opens it again', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('s3cret-Pa55');
    expect(sealed).not.toContain('s3cret');
    expect(sealed).toMatch(/^enc:v1:k[0-9a-f]{8}:/);
    expect(box.open(sealed)).toBe('s3cret-Pa55');
    expect(box.seal('x')).not.toBe(box.seal('x'));
  });

  it('refuses a tampered value and a value sealed with an unknown key', () => {
    const box = new SecretBox(newKey());
    const sealed = box.seal('hello');
    const parts = sealed.split(':');
    parts[5] = Buffer.from('jello').toString('base64url');
    expect(() => box.open(parts.join(':'))).toThrow();
    expect(() => new SecretBox(newKey()).open(sealed)).toThrow(/does not hold/);
  });

  it('opens values of an older key it was given, seals with the new one', () => {
    const old = newKey();
    const sealed = new SecretBox(old).seal('pw');
    const rotated = new SecretBox(newKey(), [old]);
    expect(rotated.open(sealed)).toBe('pw');
    expect(rotated.sealedWithCurrent(sealed)).toBe(false);
    expect(rotated.sealedWithCurrent(rotated.seal('pw'))).toBe(true);
  });

  it('passes plain text (rows from before encryption) through open', () => {
    expect(new SecretBox(newKey()).open('plain')).toBe('plain');
  });
});
