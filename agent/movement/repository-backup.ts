import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import { DecryptStream, EncryptStream, HashStream, RateLimit } from '../../src/backup/crypto';
import { BACKUP_ID, DATA_OBJECT, type ObjectWriter, type Repository } from '../../src/backup/repository';
import { repositoryOf } from './repository-of';
import type { AgentBackupProgress } from '../../src/gen/berth/v1/AgentBackupProgress';
import type { AgentBackupRequest__Output } from '../../src/gen/berth/v1/AgentBackupRequest';
import type { SeedInstanceRequest__Output } from '../../src/gen/berth/v1/SeedInstanceRequest';
import type { SeedProgress } from '../../src/gen/berth/v1/SeedProgress';
import { binds, DIRS, IN_CONTAINER, layoutFor } from '../instance/layout';
import { readRecord } from '../instance/record';
import { removeInstanceFiles } from '../instance/datadir';
import type { BackupChunk } from '../../src/gen/berth/v1/BackupChunk';
import { BACKUP_CMD, copyBytes, runBackup, tail } from './backup';
import { parseBinlogInfo, Progress } from './progress';
import { labels, OWNED_DIRS, PREPARE_TIMEOUT_MS, startUnpack, type SeedContext } from './seed';
import { withInstance } from './sql';

// Full physical backups into the backup repository and restores out of it (docs/backup.md).
// The bytes go: a throwaway container of the instance's image (mariabackup | gzip, or tar of a
// CLONE LOCAL directory | gzip) → a FIFO in the instance's tmp dir → this agent (rate limit,
// SHA-256, AES-256-GCM segments, SHA-256) → the repository's object for <backup>/data.enc, visible
// only once complete (a directory: .partial, fsynced, renamed; S3: a completed multipart
// upload). The images hold gzip but no zstd, hence gzip -1 (fast) in the container.
const bash = (script: string) => ['bash', '-o', 'pipefail', '-c', script];
const CLONE_DIR = (backupId: string) => `berth-clone-${backupId}`;
// mariabackup's --extra-lsndir: its xtrabackup_checkpoints (the LSN range) and xtrabackup_info
// (the GTID of the last change), read by this agent after the stream ended.
const LSN_DIR = (backupId: string) => `berth-lsn-${backupId}`;
const LSN = /^\d{1,20}$/;
// Where a restore unpacks an incremental before applying it (the new instance's tmp dir).
const INC_DIR = (backupId: string) => `berth-inc-${backupId}`;
// Where an incremental's prepare sees the instance's root (data/ and tmp/ on one mount).
const ROOT_IN_CONTAINER = '/berth-instance';

export async function* backupToRepository(ctx: SeedContext, req: AgentBackupRequest__Output, signal: AbortSignal): AsyncGenerator<AgentBackupProgress> {
  const { repo, inst, layout } = await backupTarget(ctx, req);
  const progress = new Progress();
  progress.total = await copyBytes(layout.dirs.data);
  const dataBytes = progress.total;
  const cloneHostDir = path.join(layout.dirs.tmp, CLONE_DIR(req.backupId));
  const lsnHostDir = path.join(layout.dirs.tmp, LSN_DIR(req.backupId));
  let out: ObjectWriter | undefined;
  try {
    if (inst.flavor === 'mysql') yield progress.report('clone');
    const how = await backupMethod(ctx, inst, req, cloneHostDir, lsnHostDir);
    const chunks = runBackup(ctx.docker, inst, ctx.node, signal, undefined, how.command, how.method === 'clone' ? 'tar of the clone' : 'mariabackup --backup');
    out = await repo.createObject(req.backupId, DATA_OBJECT);
    const { plain, stored } = yield* writeObject(chunks, req, out, progress, how.method === 'clone' ? 'pack' : 'backup', signal);
    await out.commit();
    progress.done = progress.total;
    ctx.log.info({ instance: inst.id, backup: req.backupId, stored: stored.bytes, seconds: progress.seconds() }, 'backup written to the repository');
    const { method, archive } = how;
    const lsn = how.method === 'mariabackup' ? await readLsnDir(lsnHostDir, req.incrementalLsn) : { fromLsn: '', toLsn: '', gtid: '' };
    const gtid = how.gtid || lsn.gtid;
    yield { ...progress.report('done'), method, archive, compression: 'gzip', gtid, object: DATA_OBJECT, storedBytes: stored.bytes, storedSha256: stored.sha256, plainBytes: plain.bytes, plainSha256: plain.sha256, dataBytes, fromLsn: lsn.fromLsn, toLsn: lsn.toLsn };
  } catch (err) {
    await out?.abort().catch(() => undefined);
    throw err;
  } finally {
    await fs.rm(cloneHostDir, { recursive: true, force: true }).catch(() => undefined);
    await fs.rm(lsnHostDir, { recursive: true, force: true }).catch(() => undefined);
  }
}

// What mariabackup wrote into --extra-lsndir: the LSN range (an incremental's from must be the
// LSN it was asked for, else the chain would have a hole) and the GTID of the last change.
// Only digits and a GTID's characters are taken from these files (the dir sits in the tenant's
// tmp).
export async function readLsnDir(dir: string, askedFrom: string): Promise<{ fromLsn: string; toLsn: string; gtid: string }> {
  const checkpoints = await fs.readFile(path.join(dir, 'xtrabackup_checkpoints'), 'utf8').catch(() => '');
  const info = await fs.readFile(path.join(dir, 'xtrabackup_info'), 'utf8').catch(() => '');
  const field = (name: string) => new RegExp(`^${name} = (\\d{1,20})$`, 'm').exec(checkpoints)?.[1] ?? '';
  const fromLsn = field('from_lsn');
  const toLsn = field('to_lsn');
  if (!toLsn) throw new Error('mariabackup wrote no to_lsn (xtrabackup_checkpoints): the backup cannot be the parent of an incremental');
  if (askedFrom && fromLsn !== askedFrom) throw new Error(`mariabackup's incremental starts at LSN ${fromLsn || '?'}, not at the parent's ${askedFrom}`);
  const gtid = /GTID of the last change '([0-9,-]{1,4000})'/.exec(info)?.[1] ?? '';
  return { fromLsn, toLsn, gtid };
}

// The request checked at the edge, and the running instance it names.
async function backupTarget(ctx: SeedContext, req: AgentBackupRequest__Output) {
  if (!BACKUP_ID.test(req.backupId)) throw invalidArgument('backup_id is not a backup id');
  if (req.dataKey.length !== 32) throw invalidArgument('data_key must be 32 bytes');
  if (req.incrementalLsn && !LSN.test(req.incrementalLsn)) throw invalidArgument('incremental_lsn is not an LSN');
  const repo = repositoryOf(req.repository, req.repositoryCredentials);
  const inst = await ctx.instances.get(req.id);
  if (!inst) throw notFound(`instance ${req.id} is not on this node`);
  if (inst.state !== 'running') throw failedPrecondition(`instance ${req.id} is ${inst.state}: a backup needs it running`);
  return { repo, inst, layout: layoutFor(inst.diskPath, inst.id) };
}

interface BackupMethod {
  method: 'mariabackup' | 'clone';
  archive: 'xbstream' | 'tar';
  // The command writing the compressed archive into the FIFO (its path in the container).
  command: (fifo: string) => string[];
  // MySQL: the executed GTID set the clone holds.
  gtid: string;
}

// MariaDB: mariabackup's stream (incremental from an LSN when asked), its checkpoints into an
// LSN dir. MySQL: a CLONE LOCAL into the instance's tmp dir first (made here), then a tar of it.
async function backupMethod(ctx: SeedContext, inst: { id: string; flavor: string }, req: AgentBackupRequest__Output, cloneHostDir: string, lsnHostDir: string): Promise<BackupMethod> {
  const backupId = req.backupId;
  if (req.incrementalLsn && inst.flavor !== 'mariadb') throw invalidArgument(`instance ${inst.id} is ${inst.flavor}: only MariaDB backups are incremental (CLONE copies everything)`);
  if (inst.flavor === 'mariadb') {
    await fs.rm(lsnHostDir, { recursive: true, force: true });
    await fs.mkdir(lsnHostDir, { mode: 0o700 });
    const incremental = req.incrementalLsn ? ` --incremental-lsn=${req.incrementalLsn}` : '';
    const cmd = `${BACKUP_CMD.join(' ')} --extra-lsndir=${IN_CONTAINER.tmp}/${LSN_DIR(backupId)}${incremental}`;
    return { method: 'mariabackup', archive: 'xbstream', gtid: '', command: (fifo) => bash(`${cmd} | gzip -1 > ${fifo}`) };
  }
  if (inst.flavor !== 'mysql') throw failedPrecondition(`instance ${inst.id} is ${inst.flavor}: no backup method`);
  await fs.rm(cloneHostDir, { recursive: true, force: true });
  const gtid = await withInstance(ctx.instances, inst.id, async (s) => {
    const check = s.d.clonePluginCheck();
    if (check && (await s.rows(check)).length === 0) await s.run(s.d.installClonePlugin());
    await s.run(s.d.cloneLocal(`${IN_CONTAINER.tmp}/${CLONE_DIR(backupId)}`));
    const q = s.d.cloneGtid();
    const rows = q ? await s.rows<{ gtid: string }>(q) : [];
    return String(rows[0]?.gtid ?? '').replace(/\s+/g, '');
  });
  // The copy's identity is made afresh by the restored server: its own server_uuid and keys.
  const command = (fifo: string) => bash(`tar -C ${IN_CONTAINER.tmp}/${CLONE_DIR(backupId)} --exclude=./auto.cnf --exclude='./*.pem' -cf - . | gzip -1 > ${fifo}`);
  return { method: 'clone', archive: 'tar', gtid, command };
}

// The archive's bytes through the rate limit, hashed, encrypted and hashed again into the
// object being written; progress (what was read, against the data's size) every so often.
async function* writeObject(chunks: AsyncIterable<BackupChunk>, req: AgentBackupRequest__Output, out: ObjectWriter, progress: Progress, phase: string, signal: AbortSignal) {
  const plain = new HashStream();
  const stored = new HashStream();
  const source = Readable.from((async function* () {
    for await (const c of chunks) if (c.data?.length) yield c.data as Buffer;
  })());
  let ended = false;
  const writing = pipeline(source, new RateLimit(Number(req.rateBytesPerSecond)), plain, new EncryptStream(req.dataKey, `${req.backupId}/${DATA_OBJECT}`), stored, out.stream, { signal }).finally(() => (ended = true));
  writing.catch(() => undefined);
  while (!ended) {
    await Promise.race([writing.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
    progress.done = Math.min(plain.bytes, progress.total);
    if (!ended && progress.due()) yield progress.report(phase);
  }
  await writing;
  return { plain, stored };
}

// SeedInstance method "restore": the new instance's data directory from a backup. The stored
// object is checked against the manifest's size and SHA-256 before anything is unpacked; then it
// is decrypted (each segment authenticated) and decompressed into the unpacker, and the
// decrypted archive's SHA-256 is checked again at the end. MariaDB: mbstream -x, then
// mariabackup --prepare; MySQL: tar -x of the clone. Any failure removes the partial directory.
export async function* seedFromRepository(ctx: SeedContext, req: SeedInstanceRequest__Output, signal: AbortSignal): AsyncGenerator<SeedProgress> {
  const { r, repo } = checkRestore(ctx, req);
  if (await ctx.instances.get(req.id)) throw failedPrecondition(`instance ${req.id} already has a container on ${ctx.node}: a restore goes into a new instance`);
  const layout = layoutFor(req.diskPath, req.id);
  const marker = path.join(layout.root, 'seeded.json');
  const finished = await fs.readFile(marker, 'utf8').then(JSON.parse, () => undefined);
  if (finished) {
    yield finished as SeedProgress;
    return;
  }
  await clearTarget(ctx, req, layout);
  const progress = new Progress();
  const chain = [r, ...req.incrementals];
  progress.total = chain.reduce((n, x) => n + Number(x.storedBytes), 0);
  try {
    yield progress.report('verify');
    // Every link of a chain before anything is unpacked: a damaged incremental refuses the
    // whole restore, not half of it.
    for (const x of chain) await verifyObject(repo, x);
    for (const d of DIRS) await fs.mkdir(layout.dirs[d], { recursive: true, mode: 0o750 });
    let read = yield* unpackObject(ctx, req, r, repo, layout, progress, signal, IN_CONTAINER.data);
    yield progress.report('prepare');
    await prepareRestored(ctx, req, r, layout);
    for (const inc of req.incrementals) {
      const dir = `${IN_CONTAINER.tmp}/${INC_DIR(inc.backupId)}`;
      await fs.rm(path.join(layout.dirs.tmp, INC_DIR(inc.backupId)), { recursive: true, force: true });
      read += yield* unpackObject(ctx, req, inc, repo, layout, progress, signal, dir, true);
      yield progress.report(`prepare ${inc.backupId}`);
      await applyIncremental(ctx, req, layout, INC_DIR(inc.backupId));
    }
    await ownFiles(ctx, req, layout);
    const info = await fs.readFile(path.join(layout.dirs.data, 'xtrabackup_binlog_info'), 'utf8').catch(() => '');
    const done: SeedProgress = { ...progress.report('done'), gtidPosition: parseBinlogInfo(info), positionApplied: r.archive === 'tar', method: 'restore', transport: 'repository' };
    await fs.writeFile(marker, JSON.stringify(done));
    ctx.log.info({ instance: req.id, backup: r.backupId, incrementals: req.incrementals.length, bytes: read, seconds: progress.seconds() }, 'instance restored from a backup');
    yield done;
  } catch (err) {
    await fs.rm(layout.root, { recursive: true, force: true });
    ctx.log.warn({ instance: req.id, backup: r.backupId, err: { message: (err as Error).message } }, 'restore failed; partial data removed');
    throw err;
  }
}

type RestoreSpec = NonNullable<SeedInstanceRequest__Output['restore']>;

// Refused at the edge: what no restore of this agent's looks like.
function checkRestore(ctx: SeedContext, req: SeedInstanceRequest__Output): { r: RestoreSpec; repo: Repository } {
  const r = req.restore;
  if (!r || !BACKUP_ID.test(r.backupId) || r.dataKey.length !== 32 || r.object !== DATA_OBJECT) throw invalidArgument('restore needs a backup id, its 32-byte data key and its object');
  if (!['xbstream', 'tar'].includes(r.archive) || r.compression !== 'gzip') throw invalidArgument(`archive ${r.archive.slice(0, 20)} / compression ${r.compression.slice(0, 20)} is not one this agent unpacks`);
  for (const inc of req.incrementals) {
    if (!BACKUP_ID.test(inc.backupId) || inc.dataKey.length !== 32 || inc.object !== DATA_OBJECT || inc.archive !== 'xbstream' || inc.compression !== 'gzip' || inc.method !== 'mariabackup') throw invalidArgument('an incremental needs a backup id, its 32-byte data key, its object and a gzip xbstream archive of mariabackup');
    if (inc.repository !== r.repository) throw invalidArgument('the incrementals of a chain are in the full backup\'s repository');
  }
  if (req.incrementals.length && r.archive !== 'xbstream') throw invalidArgument('only a mariabackup backup has incrementals');
  const repo = repositoryOf(r.repository, r.repositoryCredentials);
  if (!ctx.disks.includes(req.diskPath)) throw invalidArgument(`disk ${req.diskPath} is not one of node ${ctx.node}'s data disks`);
  return { r, repo };
}

// Files of an earlier try go; files mysqld ran on go to the trash (they may hold writes).
async function clearTarget(ctx: SeedContext, req: SeedInstanceRequest__Output, layout: ReturnType<typeof layoutFor>): Promise<void> {
  if ((await readRecord(layout).catch(() => undefined))?.firstStartedAt) {
    const [to] = await removeInstanceFiles([req.diskPath], req.id);
    ctx.log.warn({ instance: req.id, trash: to }, 'a restore goes where mysqld had run: the old files are kept in the trash');
  }
  await fs.rm(layout.root, { recursive: true, force: true });
}

// The stored object against the manifest's size and SHA-256, before anything is unpacked.
async function verifyObject(repo: Repository, r: RestoreSpec): Promise<void> {
  const sum = await repo.checksum(r.backupId, r.object).catch((err: Error) => Promise.reject(failedPrecondition(`backup ${r.backupId}: its object ${r.object} cannot be read from the repository: ${err.message}`)));
  if (sum.bytes !== Number(r.storedBytes) || sum.sha256 !== r.storedSha256) {
    throw failedPrecondition(`backup ${r.backupId}: object ${r.object} does not match its manifest (${sum.bytes} bytes, SHA-256 ${sum.sha256.slice(0, 16)}…; the manifest says ${r.storedBytes} bytes, ${r.storedSha256.slice(0, 16)}…): the stored copy is damaged, refusing to restore it`);
  }
}

// Decrypted (each segment authenticated) and decompressed into the unpacker; the archive's
// SHA-256 checked against the manifest. Answers the bytes read.
// `into`: the directory in the container (the data dir; an incremental's own dir in tmp/, made
// by the unpacker when `make`).
async function* unpackObject(ctx: SeedContext, req: SeedInstanceRequest__Output, r: RestoreSpec, repo: Repository, layout: ReturnType<typeof layoutFor>, progress: Progress, signal: AbortSignal, into: string, make = false) {
  const mk = make ? `mkdir -m 0700 ${into} && ` : '';
  const unpackCmd = r.archive === 'xbstream' ? (fifo: string) => bash(`${mk}gzip -dc < ${fifo} | mbstream -x -C ${into}`) : (fifo: string) => bash(`${mk}gzip -dc < ${fifo} | tar -x -C ${into}`);
  const before = progress.done;
  const unpack = await startUnpack(ctx, { id: req.id, image: req.image }, layout, unpackCmd);
  const read = new HashStream();
  const plain = new HashStream();
  try {
    let ended = false;
    const source = await repo.readObject(r.backupId, r.object);
    const feeding = pipeline(source, read, new DecryptStream(r.dataKey, `${r.backupId}/${r.object}`), plain, unpack.stdin as net.Socket, { signal }).finally(() => (ended = true));
    feeding.catch(() => undefined);
    while (!ended) {
      await Promise.race([feeding.catch(() => undefined), new Promise((res) => setTimeout(res, 500))]);
      progress.done = before + read.bytes;
      if (!ended && progress.due()) yield progress.report('restore');
    }
    await feeding.catch((err: Error) => Promise.reject(failedPrecondition(`backup ${r.backupId}: ${err.message}`)));
    if (plain.sha256 !== r.plainSha256 || plain.bytes !== Number(r.plainBytes)) throw failedPrecondition(`backup ${r.backupId}: the decrypted archive does not match its manifest's SHA-256`);
    const code = await unpack.exited;
    if (code !== 0) throw new Error(`unpacking the backup failed (exit ${code}): ${tail(unpack.output())}`);
    return read.bytes;
  } finally {
    await unpack.remove();
  }
}

// mariabackup --prepare of the full backup (MariaDB; nothing for a clone).
async function prepareRestored(ctx: SeedContext, req: SeedInstanceRequest__Output, r: RestoreSpec, layout: ReturnType<typeof layoutFor>): Promise<void> {
  if (r.archive !== 'xbstream') return;
  await runPrepare(ctx, req, layout, `mariabackup --prepare --target-dir=${IN_CONTAINER.data}`, 'mariabackup --prepare');
}

// One incremental applied onto the prepared data (its .delta pages and redo), then its
// unpacked files removed; its xtrabackup_binlog_info becomes the data's (the position a
// roll-forward starts from). mariabackup renames files from the incremental's dir into the
// data dir: both must be on one mount (data/ and tmp/ are separate bind mounts, and a rename
// across them fails with EXDEV), so this container sees the instance's root as one mount.
async function applyIncremental(ctx: SeedContext, req: SeedInstanceRequest__Output, layout: ReturnType<typeof layoutFor>, incName: string): Promise<void> {
  const data = `${ROOT_IN_CONTAINER}/${path.basename(layout.dirs.data)}`;
  const dir = `${ROOT_IN_CONTAINER}/${path.basename(layout.dirs.tmp)}/${incName}`;
  const script = `mariabackup --prepare --target-dir=${data} --incremental-dir=${dir} && rm -rf ${dir}`;
  await runPrepare(ctx, req, layout, script, `mariabackup --prepare --incremental-dir (${incName})`, [`${layout.root}:${ROOT_IN_CONTAINER}`]);
}

// The files given to mysqld's user.
async function ownFiles(ctx: SeedContext, req: SeedInstanceRequest__Output, layout: ReturnType<typeof layoutFor>): Promise<void> {
  await runPrepare(ctx, req, layout, `chown -R mysql:mysql ${OWNED_DIRS}`, 'chown');
}

async function runPrepare(ctx: SeedContext, req: SeedInstanceRequest__Output, layout: ReturnType<typeof layoutFor>, script: string, what: string, mounts = binds(layout)): Promise<void> {
  const prep = await ctx.docker.runOnce({ image: req.image, cmd: ['sh', '-c', script], binds: mounts, labels: labels(ctx, req.id), timeoutMs: PREPARE_TIMEOUT_MS });
  if (prep.exitCode !== 0) throw new Error(`${what} failed (exit ${prep.exitCode}): ${tail(prep.output)}`);
}
