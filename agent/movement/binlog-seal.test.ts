import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { DecryptStream } from '../../src/backup/crypto';
import { scanStretch } from '../../src/backup/binlog-events';
import { DirRepository, parseRepository } from '../../src/backup/repository';
import { nextStretch, sealPiece, type TailFile } from './binlog-seal';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'backup', 'testdata', name));
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('sealing the growing tail', () => {
  it('seals the complete transactions of a file as it grows, each piece a binlog file of its own, and nothing twice', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tail-'));
    dirs.push(dir);
    const repo = new DirRepository(parseRepository(`dir:${dir}/repo`));
    const key = randomBytes(32);
    const whole = fixture('mariadb.000002');
    const all = scanStretch(whole, 'mariadb')!;
    // The file as the client has written it so far: cut in the middle of the second transaction.
    const firstEnd = scanStretch(whole.subarray(0, all.cut - 60), 'mariadb')!.cut;
    fs.writeFileSync(path.join(dir, 'binlog.000002'), whole.subarray(0, firstEnd + 10));
    const f: TailFile = { name: 'binlog.000002', sealed: 0 };
    const s1 = (await nextStretch(dir, f, 'mariadb'))!;
    const p1 = await sealPiece(repo, key, s1, f, { seq: 1, source: 'i-0123456789', flavor: 'mariadb' });
    expect(p1.before).toBe('0-7-5');
    expect(await nextStretch(dir, f, 'mariadb')).toBeUndefined();
    fs.writeFileSync(path.join(dir, 'binlog.000002'), whole);
    const s2 = (await nextStretch(dir, f, 'mariadb'))!;
    const p2 = await sealPiece(repo, key, s2, f, { seq: 2, source: 'i-0123456789', flavor: 'mariadb' });
    expect(Number(p2.fromOffset)).toBe(Number(p1.toOffset));
    expect(Number(p2.toOffset)).toBe(all.cut);
    // Decrypted, each piece reads as a binlog with the file's header and its own transactions.
    const gtids: string[] = [];
    for (const p of [p1, p2]) {
      const chunks: Buffer[] = [];
      await pipeline(fs.createReadStream(repo.objectPath(p.id!, 'binlog.enc')), new DecryptStream(key, `${p.id}/binlog.enc`), new Writable({ write: (c, _e, cb) => (chunks.push(c as Buffer), cb()) }));
      const st = scanStretch(Buffer.concat(chunks), 'mariadb')!;
      expect(st.before).toBe('0-7-5');
      gtids.push(...st.gtids);
    }
    expect(gtids).toEqual(all.gtids);
  });
});
