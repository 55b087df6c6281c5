import { Readable, PassThrough } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { checkId, checkObjectName, Repository, type ObjectWriter, type RepositorySpec } from './repository';

// The S3 backend: objects under <prefix>/berth-backups/v1/<backup id>/<name> of one bucket, the
// same layout as the directory backend. Written with multipart uploads streamed from the
// encrypter (lib-storage: parts of PART_BYTES, QUEUE parts in flight): S3 shows an object only
// once its upload completes, so a cut-short upload is never visible under its name, and the
// manifest is still written last. Tested against Ceph's radosgw (scripts/s3-server.sh).
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const PART_BYTES = 8 * 1024 * 1024;
const QUEUE = 2;
const MANIFEST = 'manifest.json';

type S3Spec = Extract<RepositorySpec, { kind: 's3' }>;

export class S3Repository extends Repository {
  readonly client: S3Client;
  readonly bucket: string;
  readonly root: string;

  constructor(spec: RepositorySpec, credentials: S3Credentials) {
    super(spec);
    if (spec.kind !== 's3') throw new Error('an S3Repository needs an s3: spec');
    if (!credentials.accessKeyId || !credentials.secretAccessKey) throw new Error(`backup repository s3://${spec.bucket}: no credentials (--backup-s3-credentials-file)`);
    this.bucket = spec.bucket;
    this.root = `${spec.prefix ? `${spec.prefix}/` : ''}berth-backups/v1`;
    this.client = new S3Client(clientConfig(spec, credentials));
  }

  key(id: string, name: string): string {
    checkId(id);
    checkObjectName(name);
    return `${this.root}/${id}/${name}`;
  }

  // The bucket, made when missing (a fresh server, a new repository).
  override async prepare(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      if (status(err) !== 404) throw s3Error(`bucket ${this.bucket}`, err);
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket })).catch((e: unknown) => (status(e) === 409 ? undefined : Promise.reject(s3Error(`creating bucket ${this.bucket}`, e))));
    }
  }

  protected async listIds(): Promise<string[]> {
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.root}/`, Delimiter: '/', ContinuationToken: token })).catch((err: unknown) => (status(err) === 404 ? undefined : Promise.reject(s3Error('listing', err))));
      if (!r) break;
      for (const p of r.CommonPrefixes ?? []) if (p.Prefix) ids.push(p.Prefix.slice(this.root.length + 1).replace(/\/$/, ''));
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return ids;
  }

  protected async getText(id: string, name: string): Promise<string | undefined> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id, name) }));
      return await r.Body!.transformToString('utf8');
    } catch (err) {
      if (status(err) === 404) return undefined;
      throw s3Error(`reading ${id}/${name}`, err);
    }
  }

  protected async putText(id: string, name: string, text: string): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.key(id, name), Body: text, ContentType: 'application/json' })).catch((err: unknown) => Promise.reject(s3Error(`writing ${id}/${name}`, err)));
  }

  // A multipart upload fed from `stream`; a failed upload is aborted (its parts removed).
  async createObject(id: string, name: string): Promise<ObjectWriter> {
    const key = this.key(id, name);
    const body = new PassThrough();
    const upload = new Upload({ client: this.client, params: { Bucket: this.bucket, Key: key, Body: body }, partSize: PART_BYTES, queueSize: QUEUE, leavePartsOnError: false });
    const done = upload.done();
    // An upload that fails stops the writer too, or the pipeline would wait on backpressure.
    done.catch((err: unknown) => body.destroy(s3Error(`uploading ${id}/${name}`, err)));
    return {
      stream: body,
      commit: async () => {
        await done.catch((err: unknown) => Promise.reject(s3Error(`uploading ${id}/${name}`, err)));
      },
      abort: async () => {
        body.destroy();
        await upload.abort().catch(() => undefined);
        await done.catch(() => undefined);
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch(() => undefined);
      },
    };
  }

  async readObject(id: string, name: string): Promise<Readable> {
    const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id, name) })).catch((err: unknown) => Promise.reject(s3Error(`reading ${id}/${name}`, err)));
    return r.Body as Readable;
  }

  // The manifest first, then every other object, then uploads left by a writer that died
  // mid-stream (an agent killed: its parts are invisible but take room).
  async remove(id: string): Promise<void> {
    checkId(id);
    const dir = `${this.root}/${id}/`;
    await this.deleteKey(`${dir}${MANIFEST}`);
    let token: string | undefined;
    do {
      const r = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: dir, ContinuationToken: token })).catch((err: unknown) => (status(err) === 404 ? undefined : Promise.reject(s3Error(`listing ${id}`, err))));
      if (!r) break;
      for (const o of r.Contents ?? []) if (o.Key) await this.deleteKey(o.Key);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    const ups = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: dir })).catch((err: unknown) => (status(err) === 404 ? undefined : Promise.reject(s3Error(`listing uploads of ${id}`, err))));
    for (const u of ups?.Uploads ?? []) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: u.Key, UploadId: u.UploadId })).catch((err: unknown) => (status(err) === 404 ? undefined : Promise.reject(s3Error(`aborting an upload of ${id}`, err))));
    }
  }

  // Uploads in progress (or left behind) under a backup: what a test checks after a kill.
  async pendingUploads(id: string): Promise<number> {
    const r = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: `${this.root}/${id}/` }));
    return r.Uploads?.length ?? 0;
  }

  private async deleteKey(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })).catch((err: unknown) => (status(err) === 404 ? undefined : Promise.reject(s3Error(`deleting ${key}`, err))));
  }
}

// Path-style addressing (radosgw and most S3-compatible servers on an IP address); checksums
// only where S3 requires them: the SDK's default CRC32 trailers are not understood by every
// S3-compatible server (radosgw 16 among them), and each object's SHA-256 is berth's own check.
function clientConfig(spec: S3Spec, credentials: S3Credentials) {
  return {
    region: spec.region,
    ...(spec.endpoint ? { endpoint: spec.endpoint, forcePathStyle: true } : {}),
    credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED' as const,
    responseChecksumValidation: 'WHEN_REQUIRED' as const,
    maxAttempts: 3,
  };
}

function status(err: unknown): number | undefined {
  const e = err as { $metadata?: { httpStatusCode?: number }; name?: string };
  if (e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.name === 'NoSuchBucket') return 404;
  return e?.$metadata?.httpStatusCode;
}

// The SDK's error, named by what was being done; its message holds no credential.
function s3Error(what: string, err: unknown): Error {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  return new Error(`S3 ${what}: ${e?.name ?? 'Error'}${e?.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : ''}: ${e?.message ?? String(err)}`);
}
