import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { alreadyExists, failedPrecondition, notFound, resourceExhausted } from '../../src/errors';
import { makeManifest, newBackupId, openDataKey, sealDataKey, type Manifest } from '../../src/backup/repository';
import { contains, emptyGtidSet, formatGtidSet, isEmpty, parseGtidSet, subtract, union } from '../../src/mysql/gtid';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { SeedInstanceRequest } from '../../src/gen/berth/v1/SeedInstanceRequest';
import type { RestoreSource } from '../../src/gen/berth/v1/RestoreSource';
import { chainOf } from '../../src/backup/chain';
import type { SeedProgress__Output } from '../../src/gen/berth/v1/SeedProgress';
import { agentProto } from '../../src/proto';
import { errorMessage } from '../../src/errors';
import type { Shape } from '../../src/validate';
import { explain } from '../scheduler/schedule';
import { findStrategy } from '../scheduler/strategies/index';
import type { Constraint } from '../scheduler/types';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import { piecesAfter } from '../clusters/binlog-archive-decide';
import type { ArchivedBinlog } from '../../src/gen/berth/v1/ArchivedBinlog';
import { agentCreateRequest, backupDeps, mustInstance, repositoryFields, type BackupDeps, type OperationDeps } from './deps';
import type { Admission, AdmitContext, OperationType, StepContext } from './types';

export interface RestoreParams {
  backupId: string;
  // The new instance (reserved at admission, like a create's).
  instanceId: string;
  // Point in time (ISO, whole seconds, UTC): the backup rolled forward with the backed-up
  // instance's binary logs up to (not including) this second.
  to?: string;
  // Or up to and including this transaction.
  untilGtid?: string;
}

type Ctx = StepContext<RestoreParams>;

const SEED_DEADLINE_MS = 12 * 3600_000;
const newPassword = () => randomBytes(18).toString('base64url');

// ---- admission ----

export interface RestoreRequest {
  backupId: string;
  name: string;
  shape?: Shape;
  node?: string;
  constraints?: Constraint[];
  // Image per flavor, for a backup whose manifest names none.
  images: Record<string, string>;
  adminUser: string;
  // Point in time (validated at the edge: a date, not in the future), or a GTID (validated at
  // the edge as one of the backup's flavor).
  to?: Date;
  untilGtid?: string;
}

// What admission needs, read (asynchronously) from the catalog and the backup's manifest first
// (prepareRestore): only a complete backup whose manifest authenticates is restored.
export interface RestoreAdmit {
  backupId: string;
  // The backed-up instance's name, for messages.
  sourceName: string;
  name: string;
  shape: Shape;
  node?: string;
  constraints?: Constraint[];
  image: string;
  flavor: string;
  adminUser: string;
  to?: string;
  untilGtid?: string;
}

export async function prepareRestore(deps: OperationDeps, r: RestoreRequest): Promise<RestoreAdmit> {
  const d = backupDeps(deps);
  const b = d.fleet.store.backups.get(r.backupId);
  if (!b) throw notFound(`no backup ${r.backupId}`);
  if (b.status !== 'complete') throw failedPrecondition(`backup ${b.id} is ${b.status}: only a complete backup can be restored`);
  let m: Manifest | undefined;
  try {
    m = await d.backup.repository.readManifest(d.backup.keys, b.id);
  } catch (err) {
    throw failedPrecondition(`backup ${b.id}: its manifest in the repository is refused: ${errorMessage(err)}`);
  }
  if (!m) throw failedPrecondition(`backup ${b.id} has no manifest in ${b.repository}: it cannot be restored`);
  if (m.method === 'binlog') throw failedPrecondition(`${b.id} is an archive of binary logs, not a backup`);
  const chain = chainOf(b.id, (id) => d.fleet.store.backups.get(id));
  if (!chain.ok) throw failedPrecondition(`backup ${b.id} cannot be restored: ${chain.error}`);
  if (r.untilGtid && m.gtid && gtidHeld(m.instance.flavor, m.gtid, r.untilGtid)) throw failedPrecondition(`backup ${b.id} already holds ${r.untilGtid} (it stands at ${m.gtid}): restore an older backup to stop there`);
  if (r.to && r.to.getTime() < Date.parse(m.completedAt)) throw failedPrecondition(`backup ${b.id} was completed at ${m.completedAt}, after ${r.to.toISOString()}: restore an older backup to reach that point`);
  const flavor = m.instance.flavor;
  const image = m.instance.image || r.images[flavor];
  if (!image) throw failedPrecondition(`backup ${b.id} is of flavor ${flavor}, for which this manager has no image`);
  const shape: Shape = r.shape ?? { cpuMillis: m.instance.cpuMillis, memoryBytes: m.instance.memoryBytes, diskBytes: m.instance.diskBytes };
  if (!shape.cpuMillis || !shape.memoryBytes || !shape.diskBytes) throw failedPrecondition(`backup ${b.id} does not record the instance's shape: give the restore one`);
  return { backupId: b.id, sourceName: b.instanceName, name: r.name, shape, node: r.node, constraints: r.constraints, image, flavor, adminUser: r.adminUser, ...(r.to ? { to: r.to.toISOString() } : {}), ...(r.untilGtid ? { untilGtid: r.untilGtid } : {}) };
}

const gtidHeld = (flavor: string, set: string, gtid: string) => contains(parseGtidSet(flavor as 'mysql' | 'mariadb', set), parseGtidSet(flavor as 'mysql' | 'mariadb', gtid));

// The new instance is placed and reserved like a create (scheduler, in the transaction that
// records the operation; release() frees it when the restore is undone), with its own generated
// admin password: the restored data's admin account is given the new instance's password when
// it starts (the agent's user set-up), so nobody who knew the source's password can log into the
// copy with it.
function admitRestore(d: BackupDeps, r: RestoreAdmit, a: AdmitContext): Admission<RestoreParams> {
  if (d.fleet.store.instances.find(r.name)) throw alreadyExists(`an instance named ${r.name} already exists: a restore makes a new instance, never over a live one`);
  const strategy = findStrategy(d.scheduler.strategy)!;
  const placed = d.fleet.snapshot.schedule({ ...r.shape, node: r.node, constraints: r.constraints?.length ? r.constraints : undefined }, { now: a.now, config: d.scheduler }, { strategy });
  if (!placed.ok) throw resourceExhausted(explain(placed));
  const id = `i-${randomBytes(6).toString('hex')}`;
  const row = d.fleet.reserveInstance({
    id,
    name: r.name,
    serverId: d.fleet.store.instances.nextServerId(),
    node: placed.placement.node,
    diskPath: placed.placement.diskPath,
    port: placed.placement.port,
    ...r.shape,
    image: r.image,
    state: 'pending',
    adminUser: r.adminUser,
    adminPassword: newPassword(),
    antiAffinityGroup: '',
  });
  d.fleet.updateInstance(id, { state: 'pending', flavor: r.flavor, message: `restoring backup ${r.backupId} of ${r.sourceName}` });
  d.fleet.event('restore.started', id, `${r.name} placed on ${row.node} port ${row.port}, restoring backup ${r.backupId} of ${r.sourceName}`);
  return { params: { backupId: r.backupId, instanceId: id, ...(r.to ? { to: r.to } : {}), ...(r.untilGtid ? { untilGtid: r.untilGtid } : {}) }, subjects: [{ kind: 'instance', name: id }], ifBusy: 'refuse' };
}

// ---- the operation type ----

// seed (the agent verifies the object against the manifest,
// decrypts, unpacks, prepares) → start (mysqld on the restored data, read-only, the new admin
// password) → open (replication settings the copy carried are cleared, then writable: a
// standalone instance). Until open, any failure removes the new instance and its reservation.
export function restoreOperation(deps: OperationDeps): OperationType<RestoreParams, RestoreAdmit> {
  const d = backupDeps(deps);
  return {
    type: 'restore',
    admit: (r, a) => admitRestore(d, r, a),
    release: { run: (ctx) => void d.fleet.releaseInstance(ctx.params.instanceId), independent: true },
    failed: (ctx, f) => {
      const i = d.fleet.store.instances.get(ctx.params.instanceId);
      if (!f.clean && i) d.fleet.updateInstance(i.id, { state: 'failed', message: `restore of backup ${ctx.params.backupId} failed and was not fully undone: ${f.error}` });
      d.fleet.event('restore.failed', ctx.params.instanceId, `restore of backup ${ctx.params.backupId} failed: ${f.error}`);
    },
    steps: [
      { name: 'seed', timeoutMs: SEED_DEADLINE_MS, run: (ctx) => seed(d, ctx), undo: (ctx) => remove(d, ctx) },
      { name: 'start', retries: 1, backoffMs: 2000, run: (ctx) => start(d, ctx), undo: (ctx) => remove(d, ctx) },
      // Point in time only (nothing to do without `to`).
      { name: 'archive-binlogs', retries: 1, backoffMs: 2000, timeoutMs: 30 * 60_000, run: (ctx) => archive(d, ctx), undo: (ctx) => removeArchive(d, ctx) },
      { name: 'roll-forward', timeoutMs: 65 * 60_000, run: (ctx) => rollForward(d, ctx) },
      { name: 'open', retries: 2, backoffMs: 1000, run: (ctx) => open(d, ctx) },
    ],
  };
}

async function seed(d: BackupDeps, ctx: Ctx): Promise<{ bytes: number; seconds: number; gtid: string }> {
  const i = mustInstance(d, ctx.params.instanceId);
  await d.fleet.commit(() => d.fleet.updateInstance(i.id, { state: 'creating', message: `restoring backup ${ctx.params.backupId}` }));
  const [full, ...incrementals] = await chainManifests(d, ctx.params.backupId);
  const last = incrementals.at(-1) ?? full!;
  const t0 = Date.now();
  const req: SeedInstanceRequest = { id: i.id, image: i.image, diskPath: i.diskPath, method: 'restore', restore: restoreSource(d, full!), incrementals: incrementals.map((m) => restoreSource(d, m)) };
  if (incrementals.length) ctx.progress({ phase: `restoring full backup ${full!.id} and ${incrementals.length} incremental${incrementals.length > 1 ? 's' : ''}` });
  const done = await seedCall(d, i.node, req, ctx);
  return { bytes: Number(done.bytesDone), seconds: (Date.now() - t0) / 1000, gtid: done.gtidPosition || last.gtid };
}

// The manifests of the backup's chain, full first: the catalog says which, each manifest (as
// authenticated) must name the same parent and continue its parent's LSN range, or the restore
// is refused before the agent reads a byte.
async function chainManifests(d: BackupDeps, backupId: string): Promise<Manifest[]> {
  const chain = chainOf(backupId, (id) => d.fleet.store.backups.get(id));
  if (!chain.ok) throw new Error(chain.error);
  const out: Manifest[] = [];
  for (const link of chain.links) {
    const m = await d.backup.repository.readManifest(d.backup.keys, link.id);
    if (!m) throw new Error(`backup ${link.id}${link.id === backupId ? '' : ` (in the chain of ${backupId})`} has no manifest in the repository any more`);
    const parent = out.at(-1);
    if ((m.parent ?? '') !== (parent?.id ?? '') || (parent && (!m.lsn || m.lsn.from !== parent.lsn?.to))) throw new Error(`the manifest of backup ${m.id} does not continue ${parent?.id ?? 'nothing'} (parent ${m.parent ?? 'none'}, LSN ${m.lsn?.from ?? '?'}): the chain is broken`);
    out.push(m);
  }
  return out;
}

function restoreSource(d: BackupDeps, m: Manifest): RestoreSource {
  const o = m.objects[0]!;
  return {
    ...repositoryFields(d.backup),
    backupId: m.id,
    dataKey: openDataKey(d.backup.keys, m),
    object: o.name,
    storedBytes: o.storedBytes,
    storedSha256: o.storedSha256,
    plainBytes: o.plainBytes,
    plainSha256: o.plainSha256,
    archive: m.archive,
    compression: m.compression,
    method: m.method,
  };
}

function seedCall(d: BackupDeps, node: string, req: SeedInstanceRequest, ctx: Ctx): Promise<SeedProgress__Output> {
  const own = !d.agents.raw;
  const client = d.agents.raw?.(node) ?? (new (agentProto().berth.v1.Agent)(d.fleet.store.nodes.get(node)!.agentAddress, grpc.credentials.createInsecure()) as AgentClient);
  return new Promise((resolve, reject) => {
    const call = client.seedInstance(req, { deadline: Date.now() + SEED_DEADLINE_MS });
    let last: SeedProgress__Output | undefined;
    const onAbort = () => call.cancel();
    ctx.signal.addEventListener('abort', onAbort);
    call.on('data', (p: SeedProgress__Output) => {
      last = p;
      ctx.progress({ phase: p.phase, bytesDone: Number(p.bytesDone), bytesTotal: Number(p.bytesTotal) });
    });
    const finish = (fn: () => void) => {
      ctx.signal.removeEventListener('abort', onAbort);
      if (own) client.close();
      fn();
    };
    call.on('error', (err: grpc.ServiceError) => finish(() => reject(new Error(`restore of backup ${ctx.params.backupId} refused: ${err.details || err.message}`))));
    call.on('end', () => finish(() => (last?.phase === 'done' ? resolve(last) : reject(new Error('the restore stream ended before the restore was done')))));
  });
}

async function start(d: BackupDeps, ctx: Ctx): Promise<{ containerId: string; version: string }> {
  const i = mustInstance(d, ctx.params.instanceId);
  // Started as copies are: read-only from its first boot, replication not started.
  const res = await d.agents.for(i.node).createInstance({ ...agentCreateRequest(i, !!d.requireMysqlTls), replica: true }, d.agentCreateDeadlineMs);
  await d.fleet.commit(() => {
    d.fleet.updateInstance(i.id, { state: 'creating', flavor: res.flavor, version: res.version, containerId: res.containerId });
    d.fleet.store.instanceTls.set(i.id, { tls: res.tls, required: res.tlsRequired });
  });
  return { containerId: res.containerId, version: res.version };
}

async function open(d: BackupDeps, ctx: Ctx): Promise<{ gtid: string }> {
  const i = mustInstance(d, ctx.params.instanceId);
  const agent = d.agents.for(i.node);
  // A backup of a replica carries its replication settings (MySQL keeps them in tables).
  await agent.resetReplica({ id: i.id });
  await agent.setReadOnly({ id: i.id, readOnly: false, persist: true });
  const s = await agent.getReplicaStatus({ id: i.id });
  await d.fleet.commit(() => {
    d.fleet.updateInstance(i.id, { state: 'running', message: `restored from backup ${ctx.params.backupId}` });
    d.fleet.event('restore.completed', i.id, `${i.name} restored from backup ${ctx.params.backupId} and open for writes`);
  });
  return { gtid: s.executedGtids };
}

async function remove(d: BackupDeps, ctx: Ctx): Promise<void> {
  const i = d.fleet.store.instances.get(ctx.params.instanceId);
  if (!i) return;
  await d.agents.for(i.node).removeInstance({ id: i.id, node: i.node, diskPath: i.diskPath }, d.agentRemoveDeadlineMs ?? 120_000);
}

// ---- point in time ----

interface ArchiveOut {
  // Pieces of the cluster's continuous archive (then archiveId is the archive's key id and
  // files is empty), or an archive made for this restore.
  continuous?: { pieces: { id: string; object: ArchivedBinlog }[]; dataKey: string };
  archiveId: string;
  source: string;
  node: string;
  files: { name: string; storedBytes: number; storedSha256: string; plainBytes: number; plainSha256: string }[];
  // Sealed with the repository key, as in a manifest.
  dataKey: string;
}

// Where the binary logs are: the cluster's primary now (it has every transaction), else the
// backed-up instance itself.
function binlogSource(d: BackupDeps, backupId: string): InstanceRow {
  const b = d.fleet.store.backups.get(backupId);
  if (!b) throw new Error(`backup ${backupId} is gone from the catalog`);
  const p = b.cluster ? d.fleet.store.instances.inCluster(b.cluster).find((m) => m.clusterRole === 'primary') : d.fleet.store.instances.get(b.instanceId);
  if (!p) throw new Error(`no instance holds the binary logs of ${b.instanceName} any more (${b.cluster ? `cluster ${b.cluster} has no primary` : 'it was deleted'}): a point-in-time restore needs them`);
  return p;
}

// The source's closed binary logs, encrypted and checksummed into the repository as an archive
// of their own (a manifest per archive, like a backup's), and checked to cover the backup: on
// MySQL no transaction after the backup may have been purged already.
async function archive(d: BackupDeps, ctx: Ctx): Promise<ArchiveOut | null> {
  if (!ctx.params.to && !ctx.params.untilGtid) return null;
  const fromArchive = await continuousArchive(d, ctx);
  if (fromArchive) return fromArchive;
  const src = binlogSource(d, ctx.params.backupId);
  const archiveId = newBackupId();
  const dataKey = randomBytes(32);
  const res = await d.agents.for(src.node).archiveBinlogs({ id: src.id, ...repositoryFields(d.backup), archiveId, dataKey }, 30 * 60_000);
  const m = await d.backup.repository.readManifest(d.backup.keys, ctx.params.backupId);
  if (m && src.flavor === 'mysql' && res.purgedGtids) {
    const purged = parseGtidSet('mysql', res.purgedGtids);
    const missing = subtract(purged, parseGtidSet('mysql', m.gtid));
    if (!isEmpty(missing)) throw new Error(`the binary logs of ${src.name} no longer hold ${formatGtidSet(missing)} (purged since backup ${m.id}): the roll-forward would have a gap; restore a newer backup`);
  }
  const files = res.files.map((f) => ({ name: f.name, storedBytes: Number(f.storedBytes), storedSha256: f.storedSha256, plainBytes: Number(f.plainBytes), plainSha256: f.plainSha256 }));
  if (files.length) {
    const now = new Date().toISOString();
    await d.backup.repository.writeManifest(
      makeManifest(
        d.backup.keys,
        {
          id: archiveId,
          createdAt: now,
          completedAt: now,
          instance: { id: src.id, name: src.name, cluster: src.clusterName, flavor: src.flavor, version: src.version, image: src.image, cpuMillis: src.cpuMillis, memoryBytes: src.memoryBytes, diskBytes: src.diskBytes },
          source: { instanceId: src.id, name: src.name, node: src.node, role: src.clusterRole || 'standalone' },
          method: 'binlog',
          archive: 'binlog',
          compression: 'none',
          gtid: res.executedGtids,
          objects: files,
        },
        dataKey,
      ),
    );
  }
  ctx.progress({ phase: `${files.length} binary logs of ${src.name} archived` });
  return { archiveId, source: src.name, node: src.node, files, dataKey: sealDataKey(d.backup.keys, archiveId, dataKey) };
}

async function removeArchive(d: BackupDeps, ctx: Ctx): Promise<void> {
  const a = ctx.output<ArchiveOut | null>('archive-binlogs');
  if (a && !a.continuous) await d.backup.repository.remove(a.archiveId);
}

// Replayed into the restored server (taking writes for the replay only: MySQL's
// super_read_only stops even root), from the backup's position up to the point in time.
async function rollForward(d: BackupDeps, ctx: Ctx): Promise<{ executedGtids: string; files: number; to: string; continuous: boolean } | null> {
  const a = ctx.output<ArchiveOut | null>('archive-binlogs');
  if ((!ctx.params.to && !ctx.params.untilGtid) || !a) return null;
  const i = mustInstance(d, ctx.params.instanceId);
  const point = ctx.params.untilGtid ? `GTID ${ctx.params.untilGtid}` : ctx.params.to!;
  const agent = d.agents.for(i.node);
  const seeded = ctx.output<{ gtid: string }>('seed');
  ctx.progress({ phase: `replaying ${a.files.length || a.continuous?.pieces.length || 0} binary logs up to ${point}` });
  await agent.setReadOnly({ id: i.id, readOnly: false });
  const stop = ctx.params.to ? ctx.params.to.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '';
  const key = openDataKey(d.backup.keys, { id: a.archiveId, dataKey: a.dataKey });
  const pieces = (a.continuous?.pieces ?? []).map((p) => ({ archiveId: p.id, dataKey: key, object: p.object }));
  const res = await agent.applyBinlogs(
    { id: i.id, ...repositoryFields(d.backup), archiveId: a.archiveId, dataKey: key, files: a.files, pieces, stopDatetime: stop, stopGtid: ctx.params.untilGtid ?? '', startGtid: i.flavor === 'mariadb' ? (seeded?.gtid ?? '') : '' },
    65 * 60_000,
  );
  // An archive made for this restore served its purpose; the continuous one stays.
  if (!a.continuous) await d.backup.repository.remove(a.archiveId).catch(() => undefined);
  const what = a.continuous ? `${pieces.length} pieces of the continuous archive of ${a.source}` : `${a.files.length} binary logs of ${a.source}`;
  d.fleet.event('restore.rolled-forward', i.id, `${i.name} rolled forward to ${point} with ${what}: ${res.executedGtids}`);
  return { executedGtids: res.executedGtids, files: a.files.length + pieces.length, to: point, continuous: !!a.continuous };
}

// ---- from the continuous archive ----

const ARCHIVE_WAIT_MS = 60_000;

// The cluster's continuous archive serves the roll-forward when it reaches past the point in
// time (a sealed piece with an event at or after it; waited for up to a minute, the archiver
// seals every second) and its chain continues from the backup's GTID state without a gap.
// Otherwise undefined: the restore archives on demand as before.
async function continuousArchive(d: BackupDeps, ctx: Ctx): Promise<ArchiveOut | undefined> {
  const store = d.fleet.store;
  const b = store.backups.get(ctx.params.backupId);
  const a = b?.cluster ? store.binlogArchives.get(b.cluster) : undefined;
  if (!b || !a || (!ctx.params.to && !ctx.params.untilGtid)) return undefined;
  const flavor = a.flavor as 'mysql' | 'mariadb';
  const toSec = ctx.params.to ? Math.floor(Date.parse(ctx.params.to) / 1000) : 0;
  const target = ctx.params.untilGtid ? parseGtidSet(flavor, ctx.params.untilGtid) : undefined;
  // Whether the archive up to and including piece `k` of `list` reaches the point.
  const reachedAt = (list: { gtids: string; lastEventAt: number }[]) => {
    if (!target) return list.findIndex((p) => p.lastEventAt >= toSec);
    let seen = emptyGtidSet(flavor);
    return list.findIndex((p) => contains((seen = union(seen, parseGtidSet(flavor, p.gtids))), target));
  };
  const reaches = () => reachedAt(store.binlogArchives.pieces(a.cluster)) >= 0;
  for (const until = Date.now() + ARCHIVE_WAIT_MS; !reaches() && Date.now() < until && !ctx.signal.aborted; ) await new Promise((r) => setTimeout(r, 500));
  if (!reaches()) return undefined;
  const base = b.flavor === 'mariadb' ? (ctx.output<{ gtid: string }>('seed')?.gtid ?? b.gtid) : b.gtid;
  const all = store.binlogArchives.pieces(a.cluster);
  const chain = piecesAfter(a.flavor as 'mysql' | 'mariadb', base, all);
  if (!chain) {
    ctx.progress({ phase: `the continuous archive of ${a.cluster} does not continue from backup ${b.id} without a gap: archiving on demand` });
    return undefined;
  }
  const last = reachedAt(chain);
  const used = last < 0 ? chain : chain.slice(0, last + 1);
  const pieces: { id: string; object: ArchivedBinlog }[] = [];
  for (const p of used) {
    const m = await d.backup.repository.readManifest(d.backup.keys, p.id);
    if (!m) throw new Error(`piece ${p.id} of the binlog archive of ${a.cluster} has no manifest in the repository`);
    pieces.push({ id: p.id, object: m.objects[0]! });
  }
  ctx.progress({ phase: `${pieces.length} pieces of the continuous archive of ${a.cluster}` });
  return { continuous: { pieces, dataKey: a.dataKey }, archiveId: a.keyId, source: a.cluster, node: '', files: [], dataKey: a.dataKey };
}
