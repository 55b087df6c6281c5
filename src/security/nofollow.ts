import { constants } from 'node:fs';
import fs from 'node:fs/promises';

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
