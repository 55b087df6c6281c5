import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Unit tests make scratch directories with os.tmpdir() (SQLite files, key files, FIFOs) and
// some do not remove them; pointing TMPDIR at one directory per run and removing it at the end
// keeps every run from leaving hundreds behind in /tmp. Workers inherit the variable.
export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-unit-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
