import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Demux } from './docker';

describe('Docker stream frames', () => {
  const frame = (type: number, text: string) => {
    const body = Buffer.from(text);
    const h = Buffer.alloc(8);
    h[0] = type;
    h.writeUInt32BE(body.length, 4);
    return Buffer.concat([h, body]);
  };

  it('pass stdout on and keep stderr apart, across frames split anywhere', async () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'warning!'), frame(1, 'world')]);
    const pieces = [all.subarray(0, 3), all.subarray(3, 17), all.subarray(17)];
    const d = new Demux();
    const out: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      Readable.from(pieces).pipe(d).on('data', (b: Buffer) => out.push(b)).on('end', resolve).on('error', reject);
    });
    expect(Buffer.concat(out).toString()).toBe('hello world');
    expect(d.stderr).toBe('warning!');
    expect(d.output).toBe('hello warning!world');
  });

  it('keep only the tail of a long output', async () => {
    const d = new Demux();
    d.resume();
    await new Promise<void>((resolve, reject) => {
      Readable.from([frame(2, 'x'.repeat(3000)), frame(2, 'y'.repeat(3000))]).pipe(d).on('end', resolve).on('error', reject);
    });
    expect(d.stderr).toBe('x'.repeat(1000) + 'y'.repeat(3000));
    expect(d.output).toBe(d.stderr);
  });
});
