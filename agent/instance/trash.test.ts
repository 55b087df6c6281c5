import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deleteTrashed, purgeTrash, removeInstanceFiles, trashDir } from './datadir';
import { layoutFor } from './layout';

describe('instance trash', () => {
  it('moves a removed instance to the disk trash, and purges it only after the retention period', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-trash-'));
    const root = layoutFor(disk, 'i-abc').root;
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    fs.writeFileSync(path.join(root, 'data', 'ibdata1'), 'rows');
    const t0 = 1_800_000_000_000;
    const kept = path.join(trashDir(disk), `i-abc-${t0}`);
    expect(await removeInstanceFiles([disk], 'i-abc', t0)).toEqual([kept]);
    expect(fs.existsSync(root)).toBe(false);
    expect(fs.readFileSync(path.join(kept, 'data', 'ibdata1'), 'utf8')).toBe('rows');
    expect(await removeInstanceFiles([disk], 'i-abc', t0)).toEqual([]);
    const DAY = 86_400_000;
    expect(await purgeTrash([disk], DAY, t0 + DAY - 1)).toEqual([]);
    expect(fs.existsSync(kept)).toBe(true);
    expect(await purgeTrash([disk], DAY, t0 + DAY)).toEqual([kept]);
    expect(fs.existsSync(kept)).toBe(false);
    fs.rmSync(disk, { recursive: true });
  });

  it('deletes trashed directories at once when asked, and reports (never throws) one it could not delete', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-trash-'));
    fs.mkdirSync(path.join(layoutFor(disk, 'i-abc').root, 'data'), { recursive: true });
    const [trashed] = await removeInstanceFiles([disk], 'i-abc', 1_800_000_000_000);
    // A path below a plain file cannot be removed (ENOTDIR): it stands for an immutable file.
    const file = path.join(disk, 'plain');
    fs.writeFileSync(file, 'x');
    const r = await deleteTrashed([trashed!, path.join(file, 'below')]);
    expect(r.deleted).toEqual([trashed]);
    expect(r.failed.map((f) => f.path)).toEqual([path.join(file, 'below')]);
    expect(fs.existsSync(trashed!)).toBe(false);
    expect(fs.readdirSync(trashDir(disk))).toEqual([]);
    fs.rmSync(disk, { recursive: true });
  });
});
