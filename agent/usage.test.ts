import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageMap } from '../manager/state/usage';
import { answers } from './session';
import { dirBytes } from './usage';

describe('usage measurement', () => {
  it('dirBytes counts allocated blocks of every file below a directory, sparse files by what they hold', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-du-'));
    try {
      fs.mkdirSync(path.join(dir, 'a', 'b'), { recursive: true });
      fs.writeFileSync(path.join(dir, 'a', 'one'), Buffer.alloc(64 * 1024, 1));
      fs.writeFileSync(path.join(dir, 'a', 'b', 'two'), Buffer.alloc(128 * 1024, 1));
      const fd = fs.openSync(path.join(dir, 'sparse'), 'w');
      fs.ftruncateSync(fd, 1024 ** 3);
      fs.closeSync(fd);
      // 64K + 128K of data, and nothing for the 1G hole or the directories themselves.
      expect(await dirBytes(dir)).toBe(192 * 1024);
      expect(await dirBytes(path.join(dir, 'a', 'b'))).toBe(128 * 1024);
      expect(await dirBytes(path.join(dir, 'nope'))).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ping is false when nothing listens on the socket', async () => {
    expect(await answers('/nonexistent/mysqld.sock', 500)).toBe(false);
  });

  it('the manager keeps the last measurement per instance and forgets instances a node no longer reports', () => {
    const u = new UsageMap();
    u.report('n1', [
      { id: 'i1', usedDiskBytes: 10, usedMemoryBytes: 20, usedCpuMillis: 5, mysqldUnresponsive: false, usageMeasuredAtMs: 1 },
      { id: 'i2', usageMeasuredAtMs: 0 }, // not measured yet
    ]);
    u.report('n2', [{ id: 'i3', usedDiskBytes: 1, usageMeasuredAtMs: 1 }]);
    expect(u.get('i1')).toMatchObject({ node: 'n1', usedDiskBytes: 10, usedMemoryBytes: 20, usedCpuMillis: 5 });
    expect(u.get('i2')).toBeUndefined();
    u.report('n1', []);
    expect(u.get('i1')).toBeUndefined();
    expect(u.get('i3')).toMatchObject({ node: 'n2', usedDiskBytes: 1 });
  });
});
