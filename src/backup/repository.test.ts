import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DecryptStream, EncryptStream, HashStream, RateLimit } from './crypto';
import { DATA_OBJECT, DirRepository, loadRepositoryKey, makeManifest, newBackupId, openDataKey, parseManifest, parseRepository, writeAtomic, type ManifestBody } from './repository';

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

describe('directory repository', () => {
  const body = (id: string): ManifestBody => ({
    id,
    createdAt: '2026-12-07T10:00:00.000Z',
    completedAt: '2026-12-07T10:00:05.000Z',
    instance: { id: 'i-0123456789', name: 'orders', cluster: '', flavor: 'mariadb', version: '10.11', image: 'berth/mariadb:10.11', cpuMillis: 500, memoryBytes: 1 << 30, diskBytes: 1 << 30 },
    source: { instanceId: 'i-0123456789', name: 'orders', node: 'n1', role: 'standalone' },
    method: 'mariabackup',
    archive: 'xbstream',
    compression: 'gzip',
    gtid: '0-1-7',
    objects: [{ name: DATA_OBJECT, storedBytes: 0, storedSha256: '', plainBytes: 0, plainSha256: '' }],
  });

  it('parses only dir: specs', () => {
    expect(parseRepository('dir:/srv/backups/')).toEqual({ kind: 'dir', path: '/srv/backups' });
    expect(() => parseRepository('s3://bucket')).toThrow(/dir:/);
    expect(() => parseRepository('dir:relative')).toThrow();
    expect(() => parseRepository('dir:/')).toThrow();
  });

  it('writes an object and its manifest, verifies checksums, rebuilds the catalog from the repository alone, and deletes', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'repo-'));
    const keyFile = path.join(root, 'state', 'backup.key');
    const keys = [loadRepositoryKey(keyFile)];
    expect((await fs.stat(keyFile)).mode & 0o777).toBe(0o600);
    const repo = new DirRepository(parseRepository(`dir:${root}/repo`));
    const id = newBackupId();
    const dataKey = randomBytes(32);
    const plain = randomBytes(5000);
    const enc = await run([plain], new EncryptStream(dataKey, `${id}/${DATA_OBJECT}`, 1024));
    await writeAtomic(repo.objectPath(id, DATA_OBJECT), enc);
    const sum = await repo.checksum(id, DATA_OBJECT);
    const b = body(id);
    b.objects[0] = { name: DATA_OBJECT, storedBytes: sum.bytes, storedSha256: sum.sha256, plainBytes: plain.length, plainSha256: createHash('sha256').update(plain).digest('hex') };
    // An interrupted backup beside it: a directory with an object and no manifest.
    const cut = newBackupId();
    await writeAtomic(repo.objectPath(cut, DATA_OBJECT), enc.subarray(0, 100));
    await repo.writeManifest(makeManifest(keys, b, dataKey));

    // A new manager: the key file and the repository, nothing else.
    const again = [loadRepositoryKey(keyFile, false)];
    const scan = await new DirRepository(parseRepository(`dir:${root}/repo`)).scan(again);
    expect(scan.complete.map((m) => m.id)).toEqual([id]);
    expect(scan.incomplete).toEqual([cut]);
    const m = scan.complete[0]!;
    expect(m.instance.name).toBe('orders');
    await repo.verify(m);
    const got = await run([await fs.readFile(repo.objectPath(id, DATA_OBJECT))], new DecryptStream(openDataKey(again, m), `${id}/${DATA_OBJECT}`));
    expect(got).toEqual(plain);

    // A flipped byte in the stored object: verify refuses, naming the object.
    const f = await fs.readFile(repo.objectPath(id, DATA_OBJECT));
    f[f.length >> 1]! ^= 0x40;
    await fs.writeFile(repo.objectPath(id, DATA_OBJECT), f);
    await expect(repo.verify(m)).rejects.toThrow(/object data.enc does not match its manifest/);

    // An altered manifest (a checksum changed to match) does not authenticate; another key's neither.
    const text = await fs.readFile(repo.objectPath(id, 'manifest.json'), 'utf8');
    const altered = JSON.parse(text);
    altered.objects[0].storedSha256 = 'ab'.repeat(32);
    expect(() => parseManifest(keys, JSON.stringify(altered))).toThrow(/does not authenticate/);
    expect(() => parseManifest([loadRepositoryKey(path.join(root, 'other.key'))], text)).toThrow(/key file does not hold/);
    const scan2 = await repo.scan([loadRepositoryKey(path.join(root, 'other.key'))]);
    expect(scan2.refused.map((r) => r.id)).toEqual([id]);

    await repo.remove(id);
    await expect(fs.stat(repo.backupDir(id))).rejects.toThrow();
    expect((await repo.scan(keys)).complete).toEqual([]);
  });
});
