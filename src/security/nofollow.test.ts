import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { identify, openOwnFifo, readTailNoFollow } from './nofollow';

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

describe('openOwnFifo', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-fifo-'));
  const flags = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK;

  it('opens the FIFO the agent made', async () => {
    const f = path.join(dir, 'mine.xbstream');
    execFileSync('mkfifo', ['-m', '0600', f]);
    const fd = await openOwnFifo(f, flags, await identify(f));
    expect(fs.fstatSync(fd).isFIFO()).toBe(true);
    fs.closeSync(fd);
  });

  // The tenant owns the directory: between mkfifo and the open it can swap the FIFO for a
  // symlink to a host file (root would read or write it), another FIFO or a regular file.
  it('refuses a symlink put in its place, without touching the target', async () => {
    const host = path.join(dir, 'shadow');
    fs.writeFileSync(host, 'root:secret');
    const f = path.join(dir, 'swapped-link.xbstream');
    execFileSync('mkfifo', ['-m', '0600', f]);
    const made = await identify(f);
    fs.unlinkSync(f);
    fs.symlinkSync(host, f);
    await expect(openOwnFifo(f, flags, made)).rejects.toThrow(/replaced by a symlink/);
    await expect(openOwnFifo(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK, made)).rejects.toThrow(/replaced by a symlink/);
    expect(fs.readFileSync(host, 'utf8')).toBe('root:secret');
  });

  it('refuses another FIFO or a regular file under the same name', async () => {
    const f = path.join(dir, 'swapped.xbstream');
    execFileSync('mkfifo', ['-m', '0600', f]);
    const made = await identify(f);
    // Moved aside, not deleted: a freed inode number may be given to the next file.
    fs.renameSync(f, `${f}.aside`);
    execFileSync('mkfifo', ['-m', '0600', f]);
    await expect(openOwnFifo(f, flags, made)).rejects.toThrow(/no longer the FIFO/);
    fs.unlinkSync(f);
    fs.writeFileSync(f, 'x');
    await expect(openOwnFifo(f, flags, made)).rejects.toThrow(/no longer the FIFO/);
  });
});
