import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import fsCb from 'node:fs';

// Reads at most the last `maxBytes` of a file that a container can write to (a MySQL error log in
// a bind-mounted directory) without following a symlink the container may have put there (to
// /etc/shadow, say), and without blocking on a FIFO. Anything but a regular file reads as ''.
export async function readTailNoFollow(file: string, maxBytes = 64 * 1024): Promise<string> {
  let fh: fs.FileHandle;
  try {
    fh = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return ''; // missing, or a symlink (ELOOP)
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return '';
    const len = Math.min(st.size, maxBytes);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, st.size - len);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

export interface MadeFile {
  dev: number;
  ino: number;
}

// What the agent made at `file` (lstat right after mkfifo), to recognise it at each open.
export async function identify(file: string): Promise<MadeFile> {
  const st = await fs.lstat(file);
  return { dev: st.dev, ino: st.ino };
}

// Opens a FIFO the agent made in a directory the container can write to (an instance's tmp/),
// as a raw descriptor: never through a symlink (O_NOFOLLOW; a tenant could swap the FIFO for a
// link to a host file, which root would then open), and only if it is still the very FIFO the
// agent made (same device and inode), else the descriptor is closed and the open refused.
export function openOwnFifo(file: string, flags: number, made: MadeFile): Promise<number> {
  return new Promise((resolve, reject) =>
    fsCb.open(file, flags | constants.O_NOFOLLOW, (err, fd) => {
      if (err) return reject(err.code === 'ELOOP' ? new Error(`${file} was replaced by a symlink; refused`) : err);
      fsCb.fstat(fd, (e2, st) => {
        if (!e2 && st.isFIFO() && st.dev === made.dev && st.ino === made.ino) return resolve(fd);
        fsCb.close(fd, () => reject(e2 ?? new Error(`${file} is no longer the FIFO the agent made; refused`)));
      });
    }),
  );
}
