import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fsSync from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecryptStream, EncryptStream, HashStream, RateLimit } from './crypto';
import { DATA_OBJECT, DirRepository, formatRepository, newBackupId, parseRepository } from './repository';
import { loadS3Credentials, openRepository } from './open-repository';
import { repositoryContract } from '../../test/harness/repository-contract';

async function run(input: Buffer[], ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(input), ...(stages as [NodeJS.ReadWriteStream]), new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

const key = randomBytes(32);

describe('segmented AES-256-GCM', () => {
  it('round-trips streams of every size around the segment boundary', async () => {
    for (const n of [0, 1, 63, 64, 65, 200, 1000]) {
      const plain = randomBytes(n);
      const enc = await run([plain.subarray(0, n >> 1), plain.subarray(n >> 1)], new EncryptStream(key, 'o', 64));
      expect(enc.includes(plain.subarray(0, 16)) && n >= 16).toBe(false);
      expect(await run([enc], new DecryptStream(key, 'o'))).toEqual(plain);
    }
  });

  it('refuses a flipped byte, a cut, an appended segment, another object name and another key', async () => {
    const plain = randomBytes(500);
    const enc = await run([plain], new EncryptStream(key, 'o', 64));
    const flipped = Buffer.from(enc);
    flipped[120]! ^= 1;
    await expect(run([flipped], new DecryptStream(key, 'o'))).rejects.toThrow(/does not authenticate/);
    // Cut at a segment boundary: the segment now last was sealed as "more".
    const firstSegment = 16 + 4 + 64 + 16;
    await expect(run([enc.subarray(0, firstSegment * 2 - 16)], new DecryptStream(key, 'o'))).rejects.toThrow(/does not authenticate|cut short/);
    await expect(run([enc.subarray(0, enc.length - 5)], new DecryptStream(key, 'o'))).rejects.toThrow(/cut short/);
    await expect(run([Buffer.concat([enc, enc.subarray(16, firstSegment)])], new DecryptStream(key, 'o'))).rejects.toThrow();
    await expect(run([enc], new DecryptStream(key, 'p'))).rejects.toThrow(/does not authenticate/);
    await expect(run([enc], new DecryptStream(randomBytes(32), 'o'))).rejects.toThrow(/does not authenticate/);
  });

  it('hashes what passes and limits the rate', async () => {
    const plain = randomBytes(3000);
    const h = new HashStream();
    const t0 = Date.now();
    await run([plain.subarray(0, 1000), plain.subarray(1000, 2000), plain.subarray(2000)], new RateLimit(10_000), h);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(h.bytes).toBe(3000);
    expect(h.sha256).toBe(createHash('sha256').update(plain).digest('hex'));
  });
});

describe('repository specs', () => {
  it('parses dir: and s3: specs, and never echoes what may hold a secret', () => {
    expect(parseRepository('dir:/srv/backups/')).toEqual({ kind: 'dir', path: '/srv/backups' });
    expect(() => parseRepository('dir:relative')).toThrow();
    expect(() => parseRepository('dir:/')).toThrow();
    const s3 = parseRepository('s3://berth-backups/fleet/eu?endpoint=http://127.0.0.81:7480/&region=default');
    expect(s3).toEqual({ kind: 's3', bucket: 'berth-backups', prefix: 'fleet/eu', endpoint: 'http://127.0.0.81:7480', region: 'default' });
    expect(formatRepository(s3)).toBe('s3://berth-backups/fleet/eu?endpoint=http%3A%2F%2F127.0.0.81%3A7480&region=default');
    expect(parseRepository(formatRepository(s3))).toEqual(s3);
    expect(parseRepository('s3://bucket')).toEqual({ kind: 's3', bucket: 'bucket', prefix: '', endpoint: '', region: 'us-east-1' });
    // Credentials never go in the spec (it is kept in the catalog and logged).
    expect(() => parseRepository('s3://bucket?endpoint=http://AKIA:SECRETKEY@host:7480')).toThrow(/without credentials/);
    expect(() => parseRepository('s3://bucket?secret_key=SECRETKEY')).toThrow(/unknown parameter/);
    for (const bad of ['s3://bucket?endpoint=http://AKIA:SECRETKEY@host:7480', 's3://bucket?secret_key=SECRETKEY', 'http://AKIA:SECRETKEY@host/b', 's3://UPPER/x']) {
      expect(() => parseRepository(bad)).toThrow();
      try {
        parseRepository(bad);
      } catch (err) {
        expect((err as Error).message).not.toContain('SECRETKEY');
      }
    }
    expect(() => parseRepository('s3://bucket?endpoint=ftp://host')).toThrow(/http/);
    expect(() => parseRepository('s3://bucket/../x')).toThrow();
  });

  it('reads s3 credentials from a 0600 file only', () => {
    const dir = fsSync.mkdtempSync(path.join(os.tmpdir(), 'creds-'));
    const f = path.join(dir, 'c');
    fsSync.writeFileSync(f, 'BERTH_S3_ENDPOINT=http://x\nBERTH_S3_ACCESS_KEY=AK\nBERTH_S3_SECRET_KEY=SK\n', { mode: 0o600 });
    expect(loadS3Credentials(f)).toEqual({ accessKeyId: 'AK', secretAccessKey: 'SK' });
    fsSync.writeFileSync(f, JSON.stringify({ accessKeyId: 'A', secretAccessKey: 'S' }));
    expect(loadS3Credentials(f)).toEqual({ accessKeyId: 'A', secretAccessKey: 'S' });
    fsSync.chmodSync(f, 0o644);
    expect(() => loadS3Credentials(f)).toThrow(/chmod 600/);
    fsSync.chmodSync(f, 0o600);
    fsSync.writeFileSync(f, 'BERTH_S3_ACCESS_KEY=AK\n');
    expect(() => loadS3Credentials(f)).toThrow(/no access key/);
    expect(() => openRepository('s3://bucket?endpoint=http://127.0.0.81:7480')).toThrow(/no credentials/);
  });
});

describe('directory repository', () => {
  let root = '';
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'repo-'));
  });
  repositoryContract(async () => new DirRepository(parseRepository(`dir:${root}/repo`)));

  it('writes objects as .partial files, renamed into place when complete', async () => {
    const repo = new DirRepository(parseRepository(`dir:${root}/repo`));
    const id = newBackupId();
    const w = await repo.createObject(id, DATA_OBJECT);
    await new Promise<void>((res) => w.stream.end(Buffer.from('abc'), () => res()));
    expect(fsSync.existsSync(`${repo.objectPath(id, DATA_OBJECT)}.partial`)).toBe(true);
    expect(fsSync.existsSync(repo.objectPath(id, DATA_OBJECT))).toBe(false);
    await w.commit();
    expect(await fs.readFile(repo.objectPath(id, DATA_OBJECT), 'utf8')).toBe('abc');
    expect(fsSync.existsSync(`${repo.objectPath(id, DATA_OBJECT)}.partial`)).toBe(false);
    await repo.remove(id);
    expect(fsSync.existsSync(repo.backupDir(id))).toBe(false);
  });
});
