import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import { DecryptStream, EncryptStream, HashStream } from '../../src/backup/crypto';
import { BACKUP_ID, type ObjectWriter, type Repository } from '../../src/backup/repository';
import { repositoryOf } from './repository-of';
import type { ApplyBinlogsRequest__Output } from '../../src/gen/berth/v1/ApplyBinlogsRequest';
import type { ApplyBinlogsResponse } from '../../src/gen/berth/v1/ApplyBinlogsResponse';
import type { ArchiveBinlogsRequest__Output } from '../../src/gen/berth/v1/ArchiveBinlogsRequest';
import type { ArchiveBinlogsResponse } from '../../src/gen/berth/v1/ArchiveBinlogsResponse';
import type { ArchivedBinlog } from '../../src/gen/berth/v1/ArchivedBinlog';
import type { ArchivedBinlog__Output } from '../../src/gen/berth/v1/ArchivedBinlog';
import { binds, IN_CONTAINER, SOCKET, layoutFor } from '../instance/layout';
import { tail } from './backup';
import { labels, type SeedContext } from './seed';
import { executedGtid, withInstance } from './sql';
import { transactionEnd } from '../../src/backup/binlog-events';
import { contains, isOneGtid, parseGtidSet } from '../../src/mysql/gtid';

// Binary logs copied off an instance into the repository and replayed into a restored one, for
// a point-in-time restore (docs/backup.md). Not continuous archiving yet: the files closed when
// the restore asks (FLUSH BINARY LOGS first) are archived.
const BINLOG_FILE = /^[A-Za-z0-9._-]{1,100}\.\d{6}$/;
const APPLY_TIMEOUT_MS = 3600_000;
const DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const GTID_LIST = /^[0-9A-Za-z:,\-\s]*$/;


export async function archiveBinlogs(ctx: SeedContext, req: ArchiveBinlogsRequest__Output): Promise<ArchiveBinlogsResponse> {
  if (!BACKUP_ID.test(req.archiveId)) throw invalidArgument('archive_id is not a backup id');
  if (req.dataKey.length !== 32) throw invalidArgument('data_key must be 32 bytes');
  const repo = repositoryOf(req.repository, req.repositoryCredentials);
  const inst = await ctx.instances.get(req.id);
  if (!inst) throw notFound(`instance ${req.id} is not on this node`);
  const { names, purged, executed } = await withInstance(ctx.instances, inst.id, async (s) => {
    await s.run([s.d.flushBinaryLogs()]);
    const rows = await s.rows<{ Log_name: string }>(s.d.binaryLogs());
    const purgedSt = s.d.gtidPurged();
    const p = purgedSt ? await s.rows<{ g: string }>(purgedSt) : [];
    return { names: rows.map((r) => r.Log_name), purged: String(p[0]?.g ?? '').replace(/\s+/g, ''), executed: (await executedGtid(s)).replace(/\s+/g, '') };
  });
  // The newest file is the one just opened by the flush: everything before it is closed.
  const closed = names.slice(0, -1).filter((n) => BINLOG_FILE.test(n));
  const dataDir = layoutFor(inst.diskPath, inst.id).dirs.data;
  const files: ArchivedBinlog[] = [];
  for (const name of closed) {
    const out: ObjectWriter = await repo.createObject(req.archiveId, `${name}.enc`);
    const plain = new HashStream();
    const stored = new HashStream();
    try {
      await pipeline(createReadStream(path.join(dataDir, name)), plain, new EncryptStream(req.dataKey, `${req.archiveId}/${name}.enc`), stored, out.stream);
      await out.commit();
    } catch (err) {
      await out.abort().catch(() => undefined);
      throw err;
    }
    files.push({ name: `${name}.enc`, storedBytes: stored.bytes, storedSha256: stored.sha256, plainBytes: plain.bytes, plainSha256: plain.sha256 });
  }
  ctx.log.info({ instance: inst.id, archive: req.archiveId, files: files.length }, 'binary logs archived');
  return { files, purgedGtids: purged, executedGtids: executed };
}

// One archived binlog (a file of an on-demand archive, or a piece of the continuous one): checked
// as stored against its checksums, decrypted, checked again.
async function fetchBinlog(repo: Repository, archiveId: string, key: Buffer, f: ArchivedBinlog__Output, out: string): Promise<void> {
  const sum = await repo.checksum(archiveId, f.name).catch((err: Error) => Promise.reject(failedPrecondition(`binlog archive ${archiveId}: ${f.name} cannot be read: ${err.message}`)));
  if (sum.bytes !== Number(f.storedBytes) || sum.sha256 !== f.storedSha256) throw failedPrecondition(`binlog archive ${archiveId}: ${f.name} does not match its manifest: damaged, refusing to replay it`);
  const plain = new HashStream();
  await pipeline(await repo.readObject(archiveId, f.name), new DecryptStream(key, `${archiveId}/${f.name}`), plain, createWriteStream(out, { mode: 0o600 }));
  if (plain.sha256 !== f.plainSha256) throw failedPrecondition(`binlog archive ${archiveId}: ${f.name} decrypts to other bytes than were archived`);
}

export async function applyBinlogs(ctx: SeedContext, req: ApplyBinlogsRequest__Output): Promise<ApplyBinlogsResponse> {
  if (!BACKUP_ID.test(req.archiveId)) throw invalidArgument('archive_id is not a backup id');
  if (req.dataKey.length !== 32) throw invalidArgument('data_key must be 32 bytes');
  if (req.stopGtid ? req.stopDatetime !== '' : !DATETIME.test(req.stopDatetime)) throw invalidArgument('stop_datetime must be "YYYY-MM-DD HH:MM:SS" (UTC), or empty with stop_gtid');
  if (!GTID_LIST.test(req.startGtid) || req.startGtid.length > 10_000) throw invalidArgument('start_gtid is not a GTID list');
  const repo = repositoryOf(req.repository, req.repositoryCredentials);
  const inst = await ctx.instances.get(req.id);
  if (!inst) throw notFound(`instance ${req.id} is not on this node`);
  if (inst.state !== 'running') throw failedPrecondition(`instance ${req.id} is ${inst.state}: binlogs are replayed into a running server`);
  if (req.stopGtid && !isOneGtid(inst.flavor, req.stopGtid)) throw invalidArgument(`stop_gtid is not one ${inst.flavor} GTID`);
  const layout = layoutFor(inst.diskPath, inst.id);
  const dirName = `berth-binlogs-${req.archiveId}`;
  const dir = path.join(layout.dirs.tmp, dirName);
  await fs.rm(dir, { recursive: true, force: true });
  await fs.mkdir(dir, { mode: 0o700 });
  try {
    const names: string[] = [];
    for (const f of req.files) {
      if (!f.name.endsWith('.enc') || !BINLOG_FILE.test(f.name.slice(0, -4))) throw invalidArgument(`"${f.name.slice(0, 60)}" is not an archived binlog`);
      await fetchBinlog(repo, req.archiveId, req.dataKey, f, path.join(dir, f.name.slice(0, -4)));
      names.push(f.name.slice(0, -4));
    }
    // Pieces of the continuous archive, in archive order, each its own directory.
    for (const [i, p] of req.pieces.entries()) {
      if (!BACKUP_ID.test(p.archiveId) || p.dataKey.length !== 32 || !p.object || p.object.name !== 'binlog.enc') throw invalidArgument('a piece is an archive id, a 32-byte key and its binlog.enc');
      const name = `piece.${String(i + 1).padStart(6, '0')}`;
      await fetchBinlog(repo, p.archiveId, p.dataKey, p.object, path.join(dir, name));
      names.push(name);
    }
    if (req.stopGtid) names.splice(0, names.length, ...(await cutAtGtid(ctx, inst, dir, names, req.stopGtid, req.startGtid)));
    if (names.length) {
      const inDir = `${IN_CONTAINER.tmp}/${dirName}`;
      const stop = req.stopGtid ? '' : `--stop-datetime='${req.stopDatetime}'`;
      const files = names.map((n) => `${inDir}/${n}`).join(' ');
      // Times are UTC; root on the socket (unix_socket / auth_socket), as the agent itself.
      const script =
        inst.flavor === 'mariadb'
          ? `mariadb-binlog ${req.startGtid ? `--start-position='${req.startGtid.replace(/\s+/g, '')}'` : ''} ${stop} ${files} | mariadb --user=root --socket=${SOCKET}`
          : `mysqlbinlog ${stop} ${files} | mysql --user=root --socket=${SOCKET}`;
      const r = await ctx.docker.runOnce({ image: inst.image, cmd: ['bash', '-o', 'pipefail', '-c', `export TZ=UTC; ${script}`], binds: binds(layout), labels: labels(ctx, inst.id), timeoutMs: APPLY_TIMEOUT_MS });
      if (r.exitCode !== 0) throw new Error(`replaying the binary logs failed (exit ${r.exitCode}): ${tail(r.output)}`);
    }
    const executed = await withInstance(ctx.instances, inst.id, executedGtid);
    if (req.stopGtid && !contains(parseGtidSet(inst.flavor as 'mysql' | 'mariadb', executed), parseGtidSet(inst.flavor as 'mysql' | 'mariadb', req.stopGtid))) {
      throw new Error(`the replay ended without GTID ${req.stopGtid} (the server has ${executed})`);
    }
    ctx.log.info({ instance: inst.id, archive: req.archiveId, files: names.length, until: req.stopDatetime || req.stopGtid, executed }, 'binary logs replayed');
    return { executedGtids: executed };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// A restore up to and including one GTID: the files (in replay order) up to the one holding it,
// that one cut just after the transaction's commit, the rest removed. Refused when the restored
// data already holds it (the point is before the backup) or no file holds it.
async function cutAtGtid(ctx: SeedContext, inst: { id: string; flavor: string }, dir: string, names: string[], gtid: string, startGtid: string): Promise<string[]> {
  const flavor = inst.flavor as 'mysql' | 'mariadb';
  const have = flavor === 'mariadb' ? startGtid : await withInstance(ctx.instances, inst.id, executedGtid);
  if (have && contains(parseGtidSet(flavor, have), parseGtidSet(flavor, gtid))) throw failedPrecondition(`the restored backup already holds GTID ${gtid} (it stands at ${have}): restore an older backup to stop there`);
  for (const [i, name] of names.entries()) {
    const file = path.join(dir, name);
    const end = transactionEnd(await fs.readFile(file), flavor, gtid);
    if (end === undefined) continue;
    await fs.truncate(file, end);
    for (const later of names.slice(i + 1)) await fs.rm(path.join(dir, later), { force: true });
    return names.slice(0, i + 1);
  }
  throw failedPrecondition(`no archived binary log holds GTID ${gtid}: it was never committed, or not on this instance's history`);
}
