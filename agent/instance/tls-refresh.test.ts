import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { installTls } from './datadir';
import { layoutFor } from './layout';
import type { InstanceStatus } from './lifecycle';
import { refreshTls } from './tls-refresh';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function nodeFiles(dir: string, tag: string) {
  const f = { ca: path.join(dir, 'ca.crt'), cert: path.join(dir, 'mysql-n.crt'), key: path.join(dir, 'mysql-n.key') };
  fs.writeFileSync(f.ca, 'CA');
  fs.writeFileSync(f.cert, `CERT ${tag}`);
  fs.writeFileSync(f.key, `KEY ${tag}`);
  return f;
}

describe('a rotated MySQL certificate reaches the instances', () => {
  it('copies the node\'s new files into each TLS instance whose copy differs and reloads the running ones', async () => {
    const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tls-refresh-'));
    dirs.push(disk);
    const old = nodeFiles(fs.mkdtempSync(path.join(disk, 'old-')), 'old');
    const inst = (id: string, state: string, tls?: { required: boolean }) => ({ id, state, diskPath: disk, ...(tls ? { tls } : {}) }) as InstanceStatus;
    const list = [inst('i-000000000001', 'running', { required: true }), inst('i-000000000002', 'stopped', { required: false }), inst('i-000000000003', 'running')];
    for (const i of list) {
      fs.mkdirSync(layoutFor(disk, i.id).dirs.conf, { recursive: true });
      if (i.tls) await installTls(layoutFor(disk, i.id), old);
    }
    const reloaded: string[] = [];
    const reload = async (id: string) => void reloaded.push(id);
    const log = createLogger('test', 'silent');
    // Nothing changed: nothing done.
    expect(await refreshTls(list, old, reload, log)).toEqual([]);

    const rotated = nodeFiles(fs.mkdtempSync(path.join(disk, 'new-')), 'new');
    expect(await refreshTls(list, rotated, reload, log)).toEqual(['i-000000000001', 'i-000000000002']);
    expect(reloaded).toEqual(['i-000000000001']);
    const tlsDir = (id: string) => path.join(layoutFor(disk, id).dirs.conf, 'tls');
    expect(fs.readFileSync(path.join(tlsDir('i-000000000001'), 'server-cert.pem'), 'utf8')).toBe('CERT new');
    expect(fs.readFileSync(path.join(tlsDir('i-000000000002'), 'server-key.pem'), 'utf8')).toBe('KEY new');
    expect(fs.existsSync(tlsDir('i-000000000003'))).toBe(false);
    // A failed reload is logged and does not stop the others.
    const newer = nodeFiles(fs.mkdtempSync(path.join(disk, 'newer-')), 'newer');
    expect(await refreshTls(list, newer, async () => Promise.reject(new Error('mysqld gone')), log)).toEqual(['i-000000000002']);
  });
});
