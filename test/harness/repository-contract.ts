import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expect, it } from 'vitest';
import { DecryptStream, EncryptStream, HashStream } from '../../src/backup/crypto';
import { DATA_OBJECT, loadRepositoryKey, makeManifest, newBackupId, openDataKey, parseManifest, type ManifestBody, type Repository } from '../../src/backup/repository';

// The behaviour every repository backend must have (docs/backup.md), run against the directory
// backend by the unit suite and against a real S3 server (radosgw) by test/s3-repository.test.ts.
// `open` gives a fresh repository object on the same storage each call (a new manager).

export async function collect(r: Readable, ...stages: NodeJS.ReadWriteStream[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(r, ...(stages as [NodeJS.ReadWriteStream]), new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

export const manifestBody = (id: string): ManifestBody => ({
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

// Writes `plain` encrypted as one object, streamed in chunks; answers the stored checksum.
export async function putEncrypted(repo: Repository, id: string, name: string, dataKey: Buffer, plain: Buffer): Promise<{ bytes: number; sha256: string }> {
  const w = await repo.createObject(id, name);
  const stored = new HashStream();
  const chunks = (function* () {
    for (let i = 0; i < plain.length; i += 1 << 20) yield plain.subarray(i, i + (1 << 20));
  })();
  await pipeline(Readable.from(chunks), new EncryptStream(dataKey, `${id}/${name}`), stored, w.stream);
  await w.commit();
  return { bytes: stored.bytes, sha256: stored.sha256 };
}

async function putRaw(repo: Repository, id: string, name: string, bytes: Buffer): Promise<void> {
  const w = await repo.createObject(id, name);
  await pipeline(Readable.from([bytes]), w.stream);
  await w.commit();
}

export function repositoryContract(open: () => Promise<Repository>): void {
  it('streams an object of several parts and its manifest, verifies them, rebuilds the catalog from the repository alone, refuses damage, and deletes', async () => {
    const state = await fs.mkdtemp(path.join(os.tmpdir(), 'repo-key-'));
    const keyFile = path.join(state, 'backup.key');
    const keys = [loadRepositoryKey(keyFile)];
    const repo = await open();
    await repo.prepare();
    const id = newBackupId();
    const dataKey = randomBytes(32);
    // 20 MiB: more than two S3 multipart parts.
    const plain = randomBytes(20 * 1024 * 1024);
    const sum = await putEncrypted(repo, id, DATA_OBJECT, dataKey, plain);
    expect(await repo.checksum(id, DATA_OBJECT)).toEqual(sum);
    const b = manifestBody(id);
    b.objects[0] = { name: DATA_OBJECT, storedBytes: sum.bytes, storedSha256: sum.sha256, plainBytes: plain.length, plainSha256: createHash('sha256').update(plain).digest('hex') };
    // An interrupted backup beside it: an object and no manifest.
    const cut = newBackupId();
    await putRaw(repo, cut, DATA_OBJECT, randomBytes(100));
    await repo.writeManifest(makeManifest(keys, b, dataKey));

    // A new manager: the key file and the repository, nothing else.
    const again = [loadRepositoryKey(keyFile, false)];
    const scan = await (await open()).scan(again);
    expect(scan.complete.map((m) => m.id)).toContain(id);
    expect(scan.complete.map((m) => m.id)).not.toContain(cut);
    expect(scan.incomplete).toContain(cut);
    const m = scan.complete.find((x) => x.id === id)!;
    expect(m.instance.name).toBe('orders');
    await repo.verify(m);
    const got = await collect(await repo.readObject(id, DATA_OBJECT), new DecryptStream(openDataKey(again, m), `${id}/${DATA_OBJECT}`));
    expect(got.equals(plain)).toBe(true);

    // A flipped byte in the stored object: verify refuses, naming the object.
    const f = await collect(await repo.readObject(id, DATA_OBJECT));
    f[f.length >> 1]! ^= 0x40;
    await putRaw(repo, id, DATA_OBJECT, f);
    await expect(repo.verify(m)).rejects.toThrow(/object data.enc does not match its manifest/);

    // An altered manifest (a checksum changed to match) does not authenticate; another key's neither.
    const text = JSON.stringify(m);
    const altered = JSON.parse(text);
    altered.objects[0].storedSha256 = 'ab'.repeat(32);
    expect(() => parseManifest(keys, JSON.stringify(altered))).toThrow(/does not authenticate/);
    const other = [loadRepositoryKey(path.join(state, 'other.key'))];
    expect((await repo.scan(other)).refused.map((r) => r.id)).toContain(id);

    await repo.remove(id);
    await repo.remove(cut);
    const after = await repo.scan(keys);
    expect([...after.complete.map((x) => x.id), ...after.incomplete, ...after.refused.map((r) => r.id)]).not.toContain(id);
    expect(after.incomplete).not.toContain(cut);
    await expect(repo.readObject(id, DATA_OBJECT)).rejects.toThrow();
  });

  it('never shows an object whose writer was aborted mid-stream, nor one whose stream broke', async () => {
    const repo = await open();
    await repo.prepare();
    const id = newBackupId();
    const w = await repo.createObject(id, DATA_OBJECT);
    await new Promise<void>((res, rej) => w.stream.write(randomBytes(9 * 1024 * 1024), (err) => (err ? rej(err) : res())));
    await w.abort();
    await expect(repo.readObject(id, DATA_OBJECT)).rejects.toThrow();

    // A source that fails halfway (a tool that died): the pipeline rejects, abort cleans up.
    const w2 = await repo.createObject(id, DATA_OBJECT);
    const failing = Readable.from(
      (async function* () {
        yield randomBytes(9 * 1024 * 1024);
        throw new Error('the tool died');
      })(),
    );
    await expect(pipeline(failing, w2.stream)).rejects.toThrow(/the tool died/);
    await w2.abort();
    await expect(repo.readObject(id, DATA_OBJECT)).rejects.toThrow();
    expect((await repo.scan([loadRepositoryKey(path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'repo-key-')), 'k'))])).complete.map((m) => m.id)).not.toContain(id);
    await repo.remove(id);
  });
}
