import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { purgeTrash, removeInstanceFiles, trashDir } from './datadir';
import { layoutFor } from './layout';

describe('instance trash', () => {
  it('moves a removed instance to the disk trash, and purges it only after the retention period', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-trash-'));
    const root = layoutFor(disk, 'i-abc').root;
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    fs.writeFileSync(path.join(root, 'data', 'ibdata1'), 'rows');
    const t0 = 1_800_000_000_000;
    expect(await removeInstanceFiles([disk], 'i-abc', t0)).toBe(true);
    expect(fs.existsSync(root)).toBe(false);
    const kept = path.join(trashDir(disk), `i-abc-${t0}`);
    expect(fs.readFileSync(path.join(kept, 'data', 'ibdata1'), 'utf8')).toBe('rows');
    expect(await removeInstanceFiles([disk], 'i-abc', t0)).toBe(false);
    const DAY = 86_400_000;
    expect(await purgeTrash([disk], DAY, t0 + DAY - 1)).toEqual([]);
    expect(fs.existsSync(kept)).toBe(true);
    expect(await purgeTrash([disk], DAY, t0 + DAY)).toEqual([kept]);
    expect(fs.existsSync(kept)).toBe(false);
    fs.rmSync(disk, { recursive: true });
  });
});
