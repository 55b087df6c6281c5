import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readTailNoFollow } from './nofollow';

describe('readTailNoFollow', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-nofollow-'));

  it('reads the end of a regular file', async () => {
    const f = path.join(dir, 'error.log');
    fs.writeFileSync(f, 'a'.repeat(100) + 'END');
    expect(await readTailNoFollow(f)).toMatch(/END$/);
    expect(await readTailNoFollow(f, 3)).toBe('END');
  });

  it('does not follow a symlink planted in place of the log, nor block on a FIFO', async () => {
    const secret = path.join(dir, 'secret');
    fs.writeFileSync(secret, 'root:$6$hash');
    const link = path.join(dir, 'linked.log');
    fs.symlinkSync(secret, link);
    expect(await readTailNoFollow(link)).toBe('');
    const fifo = path.join(dir, 'fifo.log');
    execFileSync('mkfifo', [fifo]);
    expect(await readTailNoFollow(fifo)).toBe('');
    expect(await readTailNoFollow(path.join(dir, 'missing.log'))).toBe('');
  });
});
