import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DATA_OBJECT, newBackupId, parseRepository } from '../src/backup/repository';
import { openRepository } from '../src/backup/open-repository';
import { S3Repository } from '../src/backup/s3-repository';
import { waitUntil } from './harness/cluster';
import { repositoryContract } from './harness/repository-contract';
import { s3Spec, startS3Server, type S3Server } from './harness/s3-server';

// The repository suite the directory backend passes (test/harness/repository-contract.ts), run
// against a real S3 server: Ceph's radosgw from Debian's packages, on 127.0.0.81.
describe('S3 repository (radosgw)', () => {
  let s3: S3Server;
  const bucket = `berth-test-${randomBytes(3).toString('hex')}`;
  const open = async () => openRepository(s3Spec(s3, bucket, 'fleet/a'), { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });

  beforeAll(() => {
    const t0 = Date.now();
    s3 = startS3Server();
    console.log(`[s3] radosgw answering on ${s3.endpoint} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }, 300_000);

  repositoryContract(open);

  it('removes the parts of an upload whose writer died mid-stream (an agent killed), and refuses wrong credentials', async () => {
    const repo = (await open()) as S3Repository;
    await repo.prepare();
    const id = newBackupId();
    const w = await repo.createObject(id, DATA_OBJECT);
    // Two parts sent, then the writer is gone without a word: the upload stays open, invisible.
    await new Promise<void>((res, rej) => w.stream.write(randomBytes(17 * 1024 * 1024), (err) => (err ? rej(err) : res())));
    await waitUntil('the upload open on the server', async () => (await repo.pendingUploads(id)) === 1, 30_000, 100);
    await expect(repo.readObject(id, DATA_OBJECT)).rejects.toThrow(/NoSuchKey|404/);
    expect((await repo.scan([])).complete).toEqual([]);
    // The manager's undo after the agent died: nothing of the backup is left, parts included.
    await repo.remove(id);
    expect(await repo.pendingUploads(id)).toBe(0);
    w.stream.destroy();

    const wrong = openRepository(parseRepository(s3Spec(s3, bucket, 'fleet/a')), { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' });
    const err = await wrong.scan([]).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/SignatureDoesNotMatch|AccessDenied|403/);
    expect(err?.message).not.toContain(s3.secretAccessKey);
  });
});
