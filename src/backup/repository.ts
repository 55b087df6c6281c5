import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import fsSync from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import { SecretBox, newKey, type SecretKey } from '../security/secretbox';
import { HashStream } from './crypto';

// A backup repository: where backup objects and their manifests live. One backend so far, a
// directory (a local disk or a mounted NFS share that every host of the fleet sees at the same
// path): `dir:/path`. Layout:
//
//   <root>/berth-backups/v1/<backup id>/data.enc        the encrypted archive (crypto.ts)
//   <root>/berth-backups/v1/<backup id>/manifest.json   written last: the backup is complete
//
// An object is written as <name>.partial, fsynced and renamed; the manifest, which names every
// object with its size and SHA-256, is written the same way and only after every object is in
// place. A backup directory without a manifest is an interrupted backup: never listed as usable.
export type RepositorySpec =
  | { kind: 'dir'; path: string }
  // S3-compatible object storage: objects under <prefix>/berth-backups/v1/ of the bucket. The
  // endpoint (empty: AWS) and region are part of the spec; the credentials never are (they are
  // secrets: the manager reads them from a file and hands them to agents over mTLS).
  | { kind: 's3'; bucket: string; prefix: string; endpoint: string; region: string };

const S3_SPEC = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])((?:\/[A-Za-z0-9._-]+)*)\/?(?:\?(.*))?$/;

// The spec is echoed in errors only when it cannot hold a secret (a dir: path).
export function parseRepository(spec: string): RepositorySpec {
  if (spec.startsWith('s3://')) return parseS3(spec);
  const m = /^dir:(\/.*)$/.exec(spec);
  if (!m) throw new Error(`backup repository "${spec.startsWith('dir:') ? spec.slice(0, 80) : spec.slice(0, 5) + '…'}" is not dir:/absolute/path nor s3://bucket[/prefix][?endpoint=URL&region=NAME]`);
  const p = path.normalize(m[1]!).replace(/(.)\/+$/, '$1');
  if (p === '/' || p.includes('\u0000')) throw new Error(`backup repository path ${p} is not usable`);
  return { kind: 'dir', path: p };
}

function parseS3(spec: string): RepositorySpec {
  const m = S3_SPEC.exec(spec);
  if (!m) throw new Error('backup repository s3://… is not s3://bucket[/prefix][?endpoint=URL&region=NAME] (bucket: 3-63 lower-case letters, digits, dots, dashes; prefix: letters, digits, ., _, -)');
  if ((m[2] ?? '').split('/').some((seg) => seg === '.' || seg === '..')) throw new Error(`backup repository s3://${m[1]}: the prefix may not hold . or .. segments`);
  const q = new URLSearchParams(m[3] ?? '');
  for (const k of q.keys()) if (k !== 'endpoint' && k !== 'region') throw new Error(`backup repository s3://${m[1]}: unknown parameter "${k.slice(0, 20)}" (endpoint, region; credentials go in --backup-s3-credentials-file)`);
  const endpoint = q.get('endpoint') ?? '';
  if (endpoint) {
    let u: URL;
    try {
      u = new URL(endpoint);
    } catch {
      throw new Error(`backup repository s3://${m[1]}: the endpoint is not a URL`);
    }
    if (!/^https?:$/.test(u.protocol) || u.username || u.password || u.search || (u.pathname !== '/' && u.pathname !== '')) throw new Error(`backup repository s3://${m[1]}: the endpoint must be http(s)://host[:port] without credentials, path or query`);
  }
  const region = q.get('region') ?? 'us-east-1';
  if (!/^[a-z0-9-]{1,40}$/.test(region)) throw new Error(`backup repository s3://${m[1]}: region "${region.slice(0, 40)}" is not a region name`);
  return { kind: 's3', bucket: m[1]!, prefix: (m[2] ?? '').replace(/^\//, ''), endpoint: endpoint ? new URL(endpoint).origin : '', region };
}

// The canonical form: kept in the catalog, compared, logged. Never holds a secret.
export function formatRepository(r: RepositorySpec): string {
  if (r.kind === 'dir') return `dir:${r.path}`;
  const q = new URLSearchParams();
  if (r.endpoint) q.set('endpoint', r.endpoint);
  q.set('region', r.region);
  return `s3://${r.bucket}${r.prefix ? `/${r.prefix}` : ''}?${q.toString()}`;
}

export const BACKUP_ID = /^b-[0-9a-f]{12}$/;
export const newBackupId = () => `b-${randomBytes(6).toString('hex')}`;
export const DATA_OBJECT = 'data.enc';
const MANIFEST = 'manifest.json';
const FORMAT = 'berth-backup-manifest/1';

export interface ManifestObject {
  name: string;
  // The object as stored (encrypted): what a restore checks before it reads a byte of it.
  storedBytes: number;
  storedSha256: string;
  // The archive before encryption (compressed): checked again after decryption.
  plainBytes: number;
  plainSha256: string;
}

export interface Manifest {
  format: typeof FORMAT;
  id: string;
  createdAt: string;
  completedAt: string;
  // The instance the backup is of (its name when it was taken) and where it was taken.
  instance: { id: string; name: string; cluster: string; flavor: string; version: string; image: string; cpuMillis: number; memoryBytes: number; diskBytes: number };
  source: { instanceId: string; name: string; node: string; role: string };
  // mariabackup (an xbstream archive), clone (a tar of a CLONE LOCAL data directory), or binlog
  // (an archive of binary log files for a point-in-time restore, one object per file).
  method: 'mariabackup' | 'clone' | 'binlog';
  archive: 'xbstream' | 'tar' | 'binlog';
  compression: 'gzip' | 'none';
  // The backup's GTID position (MariaDB, from xtrabackup_binlog_info when known) or executed set
  // (MySQL, from the clone).
  gtid: string;
  objects: ManifestObject[];
  // A piece of a continuous binlog archive (method binlog): which archive, where in the source's
  // file it was cut, the GTIDs it holds and the source's state before them, so the archive's
  // chain is rebuilt and checked for gaps from the repository alone.
  binlog?: { archive: string; file: string; fromOffset: number; toOffset: number; gtids: string; before: string; firstEventAt: number; lastEventAt: number };
  // MariaDB: mariabackup's LSN range (xtrabackup_checkpoints; a full backup's from is 0), and for
  // an incremental backup the backup it builds on, so a chain is rebuilt and checked from the
  // repository alone (each link's from is its parent's to).
  lsn?: { from: string; to: string };
  parent?: string;
  // The backup's data key, sealed with the repository key (never in the clear).
  dataKey: string;
  // HMAC-SHA256 of the rest, with a key derived from the repository key.
  mac: string;
}

export type ManifestBody = Omit<Manifest, 'format' | 'mac' | 'dataKey'>;

// ---- keys ----

// The repository key lives in its own file (0600) beside the manager's other secrets, never in
// the repository nor in the database. Each backup has its own random data key, kept in its
// manifest sealed with the repository key: a new manager with this key file reads and restores
// everything an old one wrote.
export function loadRepositoryKey(file: string, create = true): SecretKey {
  if (!fsSync.existsSync(file)) {
    if (!create) throw new Error(`backup repository key ${file} does not exist`);
    fsSync.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const k = newKey();
    fsSync.writeFileSync(file, JSON.stringify({ id: k.id, key: k.key.toString('base64') }) + '\n', { mode: 0o600, flag: 'wx' });
  }
  const j = JSON.parse(fsSync.readFileSync(file, 'utf8')) as { id?: string; key?: string };
  if (!j.id || !j.key) throw new Error(`${file} is not a berth key file`);
  const key = Buffer.from(j.key, 'base64');
  if (key.length !== 32) throw new Error(`${file} does not hold a 32-byte key`);
  return { id: j.id, key };
}

const dataKeyContext = (backupId: string) => `backups.data_key:${backupId}`;
const macKey = (k: SecretKey) => Buffer.from(hkdfSync('sha256', k.key, Buffer.from(k.id), Buffer.from('berth backup manifest mac'), 32));

export function sealDataKey(keys: SecretKey[], backupId: string, dataKey: Buffer): string {
  return new SecretBox(keys[0]!, keys.slice(1)).seal(dataKey.toString('base64'), dataKeyContext(backupId));
}

export function openDataKey(keys: SecretKey[], m: Pick<Manifest, 'id' | 'dataKey'>): Buffer {
  const k = Buffer.from(new SecretBox(keys[0]!, keys.slice(1)).open(m.dataKey, dataKeyContext(m.id)), 'base64');
  if (k.length !== 32) throw new Error(`the data key of backup ${m.id} is not 32 bytes`);
  return k;
}

// Canonical: keys sorted at every level, so the MAC does not depend on how JSON was written.
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function macOf(keys: SecretKey[], m: Omit<Manifest, 'mac'>): string {
  const keyId = /^enc:v2:([^:]+):/.exec(m.dataKey)?.[1] ?? '';
  const k = keys.find((x) => x.id === keyId);
  if (!k) throw new Error(`backup ${m.id} was sealed with repository key ${keyId || '(none)'}, which this manager's key file does not hold`);
  return createHmac('sha256', macKey(k)).update(canonical(m)).digest('hex');
}

export function makeManifest(keys: SecretKey[], body: ManifestBody, dataKey: Buffer): Manifest {
  const m: Omit<Manifest, 'mac'> = { format: FORMAT, ...body, dataKey: sealDataKey(keys, body.id, dataKey) };
  return { ...m, mac: macOf(keys, m) };
}

// Parses and authenticates a manifest: an altered one (an object's checksum changed to match a
// swapped object, say) is refused.
export function parseManifest(keys: SecretKey[], text: string, expectId?: string): Manifest {
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new Error('the manifest is not JSON');
  }
  if (m?.format !== FORMAT) throw new Error(`the manifest's format is ${String(m?.format).slice(0, 40)}, not ${FORMAT}`);
  if (typeof m.id !== 'string' || !BACKUP_ID.test(m.id) || (expectId && m.id !== expectId)) throw new Error(`the manifest names backup ${String(m.id).slice(0, 40)}${expectId ? `, not ${expectId}` : ''}`);
  const { mac, ...rest } = m;
  const want = Buffer.from(macOf(keys, rest), 'hex');
  const got = Buffer.from(typeof mac === 'string' ? mac : '', 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) throw new Error(`the manifest of backup ${m.id} does not authenticate (altered, or not written with this repository key)`);
  if (!Array.isArray(m.objects) || m.objects.length === 0) throw new Error(`the manifest of backup ${m.id} names no object`);
  for (const o of m.objects) if (!/^[a-z0-9.-]{1,64}$/.test(o.name) || o.name.endsWith('.partial')) throw new Error(`the manifest of backup ${m.id} names an object "${String(o.name).slice(0, 40)}"`);
  return m;
}

// ---- the backends ----

export type Scan = { complete: Manifest[]; incomplete: string[]; refused: { id: string; error: string }[] };

// An object being written: bytes go into `stream`; `commit` makes the object visible under its
// name only once every byte is durable (a directory's rename, S3's completed upload), `abort`
// leaves nothing behind. A partial object is never visible under its name.
export interface ObjectWriter {
  stream: Writable;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

// What the manager and the agents need of a repository; the manifest, scan and verify logic is
// shared, each backend gives the storage primitives.
export abstract class Repository {
  constructor(readonly spec: RepositorySpec) {}

  // Ready to take objects (S3: the bucket exists). Called before a backup's agent writes.
  async prepare(): Promise<void> {}

  // Bytes the repository can still take, where its storage says (object storage does not).
  async freeBytes(): Promise<number | undefined> {
    return undefined;
  }

  // Every backup id the repository holds anything of (complete or not).
  protected abstract listIds(): Promise<string[]>;
  // A small object's text, undefined when it does not exist.
  protected abstract getText(id: string, name: string): Promise<string | undefined>;
  protected abstract putText(id: string, name: string, text: string): Promise<void>;
  abstract createObject(id: string, name: string): Promise<ObjectWriter>;
  abstract readObject(id: string, name: string): Promise<Readable>;
  // Removes the manifest first, then everything else of the backup (partial objects included).
  abstract remove(id: string): Promise<void>;

  async writeManifest(m: Manifest): Promise<void> {
    await this.putText(m.id, MANIFEST, JSON.stringify(m, null, 2) + '\n');
  }

  async readManifest(keys: SecretKey[], id: string): Promise<Manifest | undefined> {
    checkId(id);
    const text = await this.getText(id, MANIFEST);
    return text === undefined ? undefined : parseManifest(keys, text, id);
  }

  // Everything the repository holds: the complete backups (authenticated manifests), the
  // backups without a manifest (interrupted) and those whose manifest is refused.
  async scan(keys: SecretKey[]): Promise<Scan> {
    const out: Scan = { complete: [], incomplete: [], refused: [] };
    const ids = await this.listIds();
    for (const id of ids.filter((x) => BACKUP_ID.test(x)).sort()) {
      try {
        const m = await this.readManifest(keys, id);
        if (m) out.complete.push(m);
        else out.incomplete.push(id);
      } catch (err) {
        out.refused.push({ id, error: (err as Error).message });
      }
    }
    return out;
  }

  // SHA-256 and size of an object as stored.
  async checksum(id: string, name: string): Promise<{ bytes: number; sha256: string }> {
    const h = new HashStream();
    await pipeline(await this.readObject(id, name), h, new Writable({ write: (_c, _e, cb) => cb() }));
    return { bytes: h.bytes, sha256: h.sha256 };
  }

  // Checks every object of a manifest against it; throws naming the first that differs.
  async verify(m: Manifest): Promise<void> {
    for (const o of m.objects) {
      const got = await this.checksum(m.id, o.name).catch((err: Error) => Promise.reject(new Error(`backup ${m.id}: object ${o.name} cannot be read: ${err.message}`)));
      if (got.bytes !== o.storedBytes || got.sha256 !== o.storedSha256) {
        throw new Error(`backup ${m.id}: object ${o.name} does not match its manifest (stored ${got.bytes} bytes, SHA-256 ${got.sha256.slice(0, 16)}…; the manifest says ${o.storedBytes} bytes, ${o.storedSha256.slice(0, 16)}…): the repository copy is damaged, refusing to restore it`);
      }
    }
  }
}

export function checkId(id: string): void {
  if (!BACKUP_ID.test(id)) throw new Error(`"${id.slice(0, 40)}" is not a backup id`);
}

export function checkObjectName(name: string): void {
  if (!/^[a-z0-9.-]{1,80}$/.test(name) || name.startsWith('.')) throw new Error(`"${name.slice(0, 40)}" is not an object name`);
}

// A directory every host sees at the same path.
export class DirRepository extends Repository {
  readonly root: string;

  constructor(spec: RepositorySpec) {
    super(spec);
    if (spec.kind !== 'dir') throw new Error('a DirRepository needs a dir: spec');
    this.root = path.join(spec.path, 'berth-backups', 'v1');
  }

  // The file system holding the repository (the configured directory: the tree below it may not
  // exist before the first backup).
  override async freeBytes(): Promise<number | undefined> {
    if (this.spec.kind !== 'dir') return undefined;
    const st = await fs.statfs(this.spec.path);
    return st.bavail * st.bsize;
  }

  backupDir(id: string): string {
    checkId(id);
    return path.join(this.root, id);
  }

  objectPath(id: string, name: string): string {
    checkObjectName(name);
    return path.join(this.backupDir(id), name);
  }

  protected async listIds(): Promise<string[]> {
    return fs.readdir(this.root).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? [] : Promise.reject(err)));
  }

  protected async getText(id: string, name: string): Promise<string | undefined> {
    return fs.readFile(this.objectPath(id, name), 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
  }

  protected async putText(id: string, name: string, text: string): Promise<void> {
    await writeAtomic(this.objectPath(id, name), text);
  }

  // <name>.partial, fsynced, renamed, the directory fsynced.
  async createObject(id: string, name: string): Promise<ObjectWriter> {
    const object = this.objectPath(id, name);
    const partial = `${object}.partial`;
    await fs.mkdir(path.dirname(object), { recursive: true, mode: 0o700 });
    const stream = createWriteStream(partial, { mode: 0o600 });
    return {
      stream,
      commit: async () => {
        const fh = await fs.open(partial, 'r');
        await fh.sync();
        await fh.close();
        await fs.rename(partial, object);
        await syncDir(path.dirname(object));
      },
      abort: async () => {
        stream.destroy();
        await fs.rm(partial, { force: true });
        await fs.rm(object, { force: true });
      },
    };
  }

  async readObject(id: string, name: string): Promise<Readable> {
    const file = this.objectPath(id, name);
    const fh = await fs.open(file, 'r');
    return fh.createReadStream();
  }

  async remove(id: string): Promise<void> {
    const dir = this.backupDir(id);
    await fs.rm(path.join(dir, MANIFEST), { force: true });
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// Written beside, fsynced, renamed into place, directory fsynced: a crash leaves the old file or
// the new one.
export async function writeAtomic(file: string, data: string | Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.partial`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  await syncDir(path.dirname(file));
}

export async function syncDir(dir: string): Promise<void> {
  const d = await fs.open(dir, 'r').catch(() => undefined);
  await d?.sync().catch(() => undefined);
  await d?.close();
}
