import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EncryptStream, HashStream } from '../../src/backup/crypto';
import { scanStretch, type BinlogFlavor } from '../../src/backup/binlog-events';
import { newBackupId, type Repository } from '../../src/backup/repository';
import { formatGtidSet, parseGtidSet, union, type GtidSet } from '../../src/mysql/gtid';
import type { SealedBinlogPiece } from '../../src/gen/berth/v1/SealedBinlogPiece';

// One file of the growing stream on the archiver's disk, and how far of it is sealed.
export interface TailFile {
  name: string;
  // The file's leading events (format description, GTID state), prepended to every piece.
  header?: Buffer;
  sealed: number;
  // The file's declared GTID state, plus the GTIDs sealed from it so far.
  before?: GtidSet;
}

export interface Stretched {
  piece: Buffer;
  gtids: string[];
  firstAt: number;
  lastAt: number;
  from: number;
  to: number;
}

// The complete transactions of a file past what is sealed: a piece (the file's header and
// those transactions) ready to seal, or undefined when none is complete yet.
export async function nextStretch(dir: string, f: TailFile, flavor: BinlogFlavor): Promise<Stretched | undefined> {
  const file = path.join(dir, f.name);
  if (!f.header) {
    const buf = await fs.readFile(file);
    const st = scanStretch(buf, flavor);
    if (!st) return undefined;
    f.header = buf.subarray(0, st.headerEnd);
    f.sealed = st.headerEnd;
    f.before = parseGtidSet(flavor, st.before);
  }
  const fh = await fs.open(file, 'r');
  let chunk: Buffer;
  try {
    const size = (await fh.stat()).size;
    chunk = Buffer.alloc(Math.max(0, size - f.sealed));
    if (chunk.length) await fh.read(chunk, 0, chunk.length, f.sealed);
  } finally {
    await fh.close();
  }
  const buf = Buffer.concat([f.header, chunk]);
  const st = scanStretch(buf, flavor, f.header.length);
  if (!st || st.gtids.length === 0) return undefined;
  const len = st.cut - f.header.length;
  return { piece: buf.subarray(0, st.cut), gtids: st.gtids, firstAt: st.firstAt, lastAt: st.lastAt, from: f.sealed, to: f.sealed + len };
}

// The source's state just before a piece's first transaction: MySQL, what the file declared
// plus what was sealed of it before; MariaDB, per domain the sequence number before the first.
export function beforeOf(flavor: BinlogFlavor, f: TailFile, gtids: string[]): GtidSet {
  if (flavor === 'mysql') return f.before ?? parseGtidSet('mysql', '');
  const first = new Map<string, string>();
  for (const g of gtids) {
    const [d, s, q] = g.split('-');
    if (!first.has(d!)) first.set(d!, `${d}-${s}-${Number(q) - 1}`);
  }
  return parseGtidSet('mariadb', [...first.values()].join(','));
}

// The piece encrypted and checksummed into the repository as <id>/binlog.enc (written beside,
// fsynced, renamed); the manager writes its manifest when it records it.
export async function sealPiece(repo: Repository, dataKey: Buffer, s: Stretched, f: TailFile, meta: { seq: number; source: string; flavor: BinlogFlavor }): Promise<SealedBinlogPiece> {
  const id = newBackupId();
  // Written so that a piece cut short is never visible (dir: beside, fsynced, renamed; s3: an
  // upload that completes or is aborted).
  const out = await repo.createObject(id, 'binlog.enc');
  const plain = new HashStream();
  const stored = new HashStream();
  try {
    await pipeline(Readable.from([s.piece]), plain, new EncryptStream(dataKey, `${id}/binlog.enc`), stored, out.stream);
    await out.commit();
  } catch (err) {
    await out.abort().catch(() => undefined);
    throw err;
  }
  const before = beforeOf(meta.flavor, f, s.gtids);
  const gtids = parseGtidSet(meta.flavor, s.gtids.join(','));
  if (meta.flavor === 'mysql') f.before = union(f.before ?? gtids, gtids);
  f.sealed = s.to;
  return {
    id,
    seq: meta.seq,
    sourceInstance: meta.source,
    file: f.name,
    fromOffset: s.from,
    toOffset: s.to,
    gtids: formatGtidSet(gtids),
    before: formatGtidSet(before),
    firstEventAt: s.firstAt,
    lastEventAt: s.lastAt,
    object: { name: 'binlog.enc', storedBytes: stored.bytes, storedSha256: stored.sha256, plainBytes: plain.bytes, plainSha256: plain.sha256 },
  };
}
