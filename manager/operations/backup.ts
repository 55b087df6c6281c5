import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import { formatRepository, makeManifest, newBackupId, openDataKey, sealDataKey, type Manifest } from '../../src/backup/repository';
import type { SecretKey } from '../../src/security/secretbox';
import type { AgentBackupProgress__Output } from '../../src/gen/berth/v1/AgentBackupProgress';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import { agentProto } from '../../src/proto';
import { errorMessage } from '../../src/errors';
import { heartbeatFresh } from '../scheduler/liveness';
import type { BackupRow } from '../store/backups';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import { backupDeps, repositoryFields, type BackupDeps, type OperationDeps } from './deps';
import type { Admission, AdmitContext, OperationType, StepContext } from './types';

export type { BackupConfig, BackupDeps } from './deps';

export interface BackupParams {
  backupId: string;
  instanceId: string;
  rateBytesPerSecond: number;
  allowPrimary?: boolean;
  // An incremental (MariaDB): the backup it builds on, the LSN it starts from (the parent's
  // to_lsn) and the member it must be read from (the parent's: LSNs are one server's).
  parent?: { id: string; toLsn: string; sourceInstance: string };
}

interface SourceOut {
  instanceId: string;
  name: string;
  node: string;
  role: string;
  // A replica: the primary's executed set it had applied before the copy began.
  caughtUpTo?: string;
}

type AgentDone = Pick<AgentBackupProgress__Output, 'method' | 'archive' | 'compression' | 'gtid' | 'object' | 'storedBytes' | 'storedSha256' | 'plainBytes' | 'plainSha256' | 'dataBytes' | 'fromLsn' | 'toLsn'> & { seconds: number };

type Ctx = StepContext<BackupParams>;

const STREAM_DEADLINE_MS = 12 * 3600_000;
const STATUS_MS = 2000;
const CATCH_UP_MS = 60_000;

// ---- admission (the API edge validated the input) ----

export interface BackupRequest {
  instanceId: string;
  rateBytesPerSecond?: number;
  allowPrimary?: boolean;
  incremental?: boolean;
}

// The parent of an incremental: the target's newest complete MariaDB backup that recorded its
// LSN (a cluster's: whichever member it was asked of).
export function parentFor(d: BackupDeps, i: InstanceRow): BackupParams['parent'] {
  if (i.flavor !== 'mariadb') throw invalidArgument(`instance ${i.name} is ${i.flavor || 'of an unknown flavor'}: only MariaDB backups can be incremental (MySQL's CLONE copies everything)`);
  const mine = i.clusterName ? d.fleet.store.backups.listCluster(i.clusterName, 1000) : d.fleet.store.backups.list(i.name, 1000).filter((b) => b.instanceId === i.id);
  const p = mine.find((b) => b.status === 'complete' && b.method === 'mariabackup');
  if (!p) throw failedPrecondition(`${i.clusterName ? `cluster ${i.clusterName}` : `instance ${i.name}`} has no complete backup to build an incremental on: take a full backup first`);
  if (!p.toLsn || !p.sourceInstance) throw failedPrecondition(`backup ${p.id}, the newest of ${i.clusterName || i.name}, recorded no LSN: take a full backup first`);
  return { id: p.id, toLsn: p.toLsn, sourceInstance: p.sourceInstance };
}

// Records the catalog row (running) with the operation, in the submit's transaction.
// A backup holds no lock: it reads a copy of the data while the instance (and its cluster)
// go on, so a failover or a switchover is never held up behind a long backup. A source that
// goes away mid-stream makes the backup fail; it is never listed as complete.
function admitBackup(d: BackupDeps, r: BackupRequest, a: AdmitContext): Admission<BackupParams> {
  const cfg = d.backup;
  const i = d.fleet.store.instances.get(r.instanceId);
  if (!i) throw notFound(`no instance ${r.instanceId}`);
  if (i.state !== 'running') throw failedPrecondition(`instance ${i.name} is ${i.state}: a backup needs it running`);
  const parent = r.incremental ? parentFor(d, i) : undefined;
  const backupId = newBackupId();
  d.fleet.store.backups.insert({ id: backupId, instanceId: i.id, instanceName: i.name, cluster: i.clusterName, flavor: i.flavor, repository: formatRepository(cfg.repository.spec), operationId: a.opId, parentId: parent?.id ?? '' });
  d.fleet.event('backup.started', i.id, `backup ${backupId} of ${i.name} started${parent ? ` (incremental on ${parent.id})` : ''}`);
  const params: BackupParams = { backupId, instanceId: i.id, rateBytesPerSecond: r.rateBytesPerSecond || cfg.rateBytesPerSecond, ...(r.allowPrimary ? { allowPrimary: true } : {}), ...(parent ? { parent } : {}) };
  return { params, subjects: [], ifBusy: 'wait' };
}

// ---- the operation type ----

// choose-source (a healthy replica of the cluster when there is one, else the instance) →
// stream (the agent writes the encrypted object into the repository) → manifest (written last,
// with every object's checksum; only then is the backup complete). Any failure removes what
// was written and marks the catalog row failed.
export function backupOperation(deps: OperationDeps): OperationType<BackupParams, BackupRequest> {
  const d = backupDeps(deps);
  return {
    type: 'backup',
    admit: (r, a) => admitBackup(d, r, a),
    failed: (ctx, f) => {
      d.fleet.store.backups.update(ctx.params.backupId, { status: 'failed', message: f.error.slice(0, 2000) });
      d.fleet.event('backup.failed', ctx.params.instanceId, `backup ${ctx.params.backupId} failed (never usable; its objects were removed): ${f.error}`);
    },
    steps: [
      { name: 'choose-source', run: (ctx) => chooseSource(d, ctx) },
      { name: 'stream', timeoutMs: STREAM_DEADLINE_MS, run: (ctx) => stream(d, ctx), undo: (ctx) => removeObjects(d, ctx) },
      { name: 'manifest', retries: 2, backoffMs: 1000, run: (ctx) => writeManifest(d, ctx), undo: (ctx) => removeObjects(d, ctx) },
    ],
  };
}

async function chooseSource(d: BackupDeps, ctx: Ctx): Promise<SourceOut> {
  const i = d.fleet.store.instances.get(ctx.params.instanceId);
  if (!i) throw new Error(`instance ${ctx.params.instanceId} is gone`);
  const out = (m: InstanceRow, role: string): SourceOut => ({ instanceId: m.id, name: m.name, node: m.node, role });
  // An incremental is read where its parent was: another member's pages carry other LSNs.
  const only = ctx.params.parent?.sourceInstance;
  const fromParent = (m: InstanceRow) => !only || m.id === only;
  const notParents = () => new Error(`an incremental backup is read from the server its parent ${ctx.params.parent!.id} was read from (${only}), which cannot serve it now: take a full backup`);
  if (!i.clusterName) {
    if (!fromParent(i)) throw notParents();
    return out(i, 'standalone');
  }
  const now = Date.now();
  const fresh = (m: InstanceRow) => {
    const n = d.fleet.snapshot.get(m.node);
    return !!n && heartbeatFresh(n.lastHeartbeatMs, now, d.scheduler ?? { nodeTimeoutMs: 15_000 });
  };
  const replicas = d.fleet.store.instances.inCluster(i.clusterName).filter((m) => m.clusterRole === 'replica' && !m.fenced && m.state === 'running' && fresh(m) && fromParent(m));
  const why: string[] = [];
  // What the primary had committed when the backup was asked for: the replica must have applied
  // it before its copy starts, so the backup holds every write acknowledged before it began.
  const primary = d.fleet.store.instances.inCluster(i.clusterName).find((m) => m.clusterRole === 'primary');
  const target = primary ? await d.agents.for(primary.node).getReplicaStatus({ id: primary.id }, STATUS_MS).then((s) => s.executedGtids, () => undefined) : undefined;
  for (const r of replicas) {
    try {
      const s = await d.agents.for(r.node).getReplicaStatus({ id: r.id }, STATUS_MS);
      if (!s.ioRunning || !s.sqlRunning || s.lastIoError || s.lastSqlError) throw new Error(`replication ${s.ioRunning ? '' : 'IO stopped '}${s.sqlRunning ? '' : 'SQL stopped '}${s.lastIoError || s.lastSqlError}`.trim());
      if (target === undefined) throw new Error('the primary did not say what it has committed');
      const w = await d.agents.for(r.node).waitForGtid({ id: r.id, gtidSet: target, timeoutMs: CATCH_UP_MS }, CATCH_UP_MS + 10_000);
      if (!w.reached) throw new Error(`did not apply the primary's ${target} within ${CATCH_UP_MS / 1000} s`);
      return { ...out(r, 'replica'), caughtUpTo: target };
    } catch (err) {
      why.push(`${r.name}: ${errorMessage(err)}`);
    }
  }
  if (!ctx.params.allowPrimary) {
    throw new Error(`cluster ${i.clusterName} has no healthy replica to back up from (${why.join('; ') || 'no running replica'}); a backup never reads the primary unless asked (allow_primary)`);
  }
  const p = d.fleet.store.instances.inCluster(i.clusterName).find((m) => m.clusterRole === 'primary');
  if (!p) throw new Error(`cluster ${i.clusterName} has no primary`);
  if (!fromParent(p)) throw notParents();
  return out(p, 'primary');
}

// The data key is made here and kept (sealed with the repository key) only in the manifest;
// a step that runs again after a restart makes a new one and a new object.
async function stream(d: BackupDeps, ctx: Ctx): Promise<AgentDone & { dataKey: string }> {
  const src = ctx.output<SourceOut>('choose-source')!;
  const dataKey = randomBytes(32);
  d.fleet.store.backups.update(ctx.params.backupId, { sourceInstance: src.instanceId, sourceNode: src.node });
  await d.backup.repository.prepare();
  const t0 = Date.now();
  const client = d.agents.raw?.(src.node) ?? (new (agentProto().berth.v1.Agent)(d.fleet.store.nodes.get(src.node)!.agentAddress, grpc.credentials.createInsecure()) as AgentClient);
  const own = !d.agents.raw;
  const done = await new Promise<AgentBackupProgress__Output>((resolve, reject) => {
    const call = client.backupInstance(
      { id: src.instanceId, ...repositoryFields(d.backup), backupId: ctx.params.backupId, dataKey, rateBytesPerSecond: ctx.params.rateBytesPerSecond, incrementalLsn: ctx.params.parent?.toLsn ?? '' },
      { deadline: Date.now() + STREAM_DEADLINE_MS },
    );
    let last: AgentBackupProgress__Output | undefined;
    const onAbort = () => call.cancel();
    ctx.signal.addEventListener('abort', onAbort);
    call.on('data', (p: AgentBackupProgress__Output) => {
      last = p;
      ctx.progress({ phase: `${p.phase} from ${src.name} (${src.role}) on ${src.node}`, bytesDone: Number(p.bytesDone), bytesTotal: Number(p.bytesTotal) });
    });
    const finish = (fn: () => void) => {
      ctx.signal.removeEventListener('abort', onAbort);
      if (own) client.close();
      fn();
    };
    call.on('error', (err) => finish(() => reject(new Error(`the backup stream from ${src.node} broke: ${errorMessage(err)}`))));
    call.on('end', () => finish(() => (last?.phase === 'done' ? resolve(last) : reject(new Error(`the backup stream from ${src.node} ended before the backup was done`)))));
  });
  // The key travels in the step's output (the store) only sealed, as the manifest will keep it.
  const sealed = sealDataKey(d.backup.keys, ctx.params.backupId, dataKey);
  return { ...pick(done), seconds: (Date.now() - t0) / 1000, dataKey: sealed };
}

const pick = (p: AgentBackupProgress__Output): Omit<AgentDone, 'seconds'> => ({
  method: p.method,
  archive: p.archive,
  compression: p.compression,
  gtid: p.gtid,
  object: p.object,
  storedBytes: Number(p.storedBytes),
  storedSha256: p.storedSha256,
  plainBytes: Number(p.plainBytes),
  plainSha256: p.plainSha256,
  dataBytes: Number(p.dataBytes),
  fromLsn: p.fromLsn,
  toLsn: p.toLsn,
});

function manifestBody(d: BackupDeps, ctx: Ctx, src: SourceOut, a: AgentDone) {
  const row = d.fleet.store.backups.get(ctx.params.backupId)!;
  const i = d.fleet.store.instances.get(ctx.params.instanceId);
  return {
    id: ctx.params.backupId,
    createdAt: row.createdAt,
    completedAt: new Date().toISOString(),
    instance: {
      id: row.instanceId,
      name: row.instanceName,
      cluster: row.cluster,
      flavor: i?.flavor || row.flavor,
      version: i?.version ?? '',
      image: i?.image ?? '',
      cpuMillis: i?.cpuMillis ?? 0,
      memoryBytes: i?.memoryBytes ?? 0,
      diskBytes: i?.diskBytes ?? 0,
    },
    source: { instanceId: src.instanceId, name: src.name, node: src.node, role: src.role },
    method: a.method as Manifest['method'],
    archive: a.archive as Manifest['archive'],
    compression: a.compression as Manifest['compression'],
    gtid: a.gtid,
    objects: [{ name: a.object, storedBytes: a.storedBytes, storedSha256: a.storedSha256, plainBytes: a.plainBytes, plainSha256: a.plainSha256 }],
    ...(a.toLsn ? { lsn: { from: a.fromLsn, to: a.toLsn } } : {}),
    ...(ctx.params.parent ? { parent: ctx.params.parent.id } : {}),
  };
}

// Last: the object is checked as stored, then the manifest written; the backup is complete.
async function writeManifest(d: BackupDeps, ctx: Ctx): Promise<{ storedBytes: number; seconds: number }> {
  const src = ctx.output<SourceOut>('choose-source')!;
  const s = ctx.output<AgentDone & { dataKey: string }>('stream')!;
  const dataKey = openDataKey(d.backup.keys, { id: ctx.params.backupId, dataKey: s.dataKey });
  const m = makeManifest(d.backup.keys, manifestBody(d, ctx, src, s), dataKey);
  await d.backup.repository.verify(m);
  await d.backup.repository.writeManifest(m);
  d.fleet.change(() => {
    d.fleet.store.backups.update(ctx.params.backupId, { status: 'complete', method: s.method, storedBytes: s.storedBytes, dataBytes: s.dataBytes, gtid: s.gtid, flavor: m.instance.flavor, completedAt: m.completedAt, message: '', fromLsn: s.fromLsn ?? '', toLsn: s.toLsn ?? '' });
    d.fleet.event('backup.completed', ctx.params.instanceId, `backup ${ctx.params.backupId} of ${m.instance.name} complete: ${s.storedBytes} bytes stored (${s.dataBytes} bytes of data, ${s.method} from ${src.name} on ${src.node}) in ${s.seconds.toFixed(1)} s`);
  });
  return { storedBytes: s.storedBytes, seconds: s.seconds };
}

async function removeObjects(d: BackupDeps, ctx: Ctx): Promise<void> {
  await d.backup.repository.remove(ctx.params.backupId);
}

// ---- the catalog's other changes ----

// The repository's objects go first (manifest first of all: a delete cut short leaves an
// incomplete backup, never a complete one missing objects), then the row.
// `operation`: an operation as it stands (the engine's copy while it runs).
export async function deleteBackup(d: BackupDeps, operation: (id: string) => OperationRow | undefined, id: string): Promise<BackupRow> {
  const b = d.fleet.store.backups.get(id);
  if (!b) throw notFound(`no backup ${id}`);
  if (b.status === 'running') {
    const op = operation(b.operationId);
    if (op && (op.state === 'running' || op.state === 'rolling_back')) throw failedPrecondition(`backup ${id} is still being taken (operation ${b.operationId}): wait for it to end`);
  }
  // Never a backup an incremental builds on (running or complete): delete those first.
  const children = d.fleet.store.backups.children(id);
  if (children.length) throw failedPrecondition(`backup ${id} is the parent of incremental backup${children.length > 1 ? 's' : ''} ${children.map((c) => c.id).join(', ')}: delete ${children.length > 1 ? 'them' : 'it'} first`);
  if (b.repository !== formatRepository(d.backup.repository.spec)) throw failedPrecondition(`backup ${id} is in repository ${b.repository}, not this manager's ${formatRepository(d.backup.repository.spec)}`);
  d.fleet.store.backups.update(id, { status: 'deleting' });
  await d.backup.repository.remove(id);
  d.fleet.change(() => {
    d.fleet.store.backups.remove(id);
    d.fleet.event('backup.deleted', b.instanceId, `backup ${id} of ${b.instanceName} deleted from ${b.repository}`);
  });
  return { ...b, status: 'deleting' };
}

// The catalog rebuilt from the repository alone: every complete backup it does not list is
// added (a new manager, a lost store). Interrupted and refused ones are reported, never added.
export async function syncCatalog(d: BackupDeps): Promise<{ added: string[]; incomplete: string[]; refused: string[] }> {
  const scan = await d.backup.repository.scan(d.backup.keys);
  const added: string[] = [];
  d.fleet.change(() => {
    for (const m of scan.complete) {
      if (d.fleet.store.backups.get(m.id) || m.method === 'binlog') continue;
      const o = m.objects[0]!;
      d.fleet.store.backups.insert({
        id: m.id,
        instanceId: m.instance.id,
        instanceName: m.instance.name,
        cluster: m.instance.cluster,
        flavor: m.instance.flavor,
        repository: formatRepository(d.backup.repository.spec),
        operationId: '',
        sourceInstance: m.source.instanceId,
        sourceNode: m.source.node,
        method: m.method,
        status: 'complete',
        storedBytes: m.objects.reduce((n, x) => n + x.storedBytes, 0) || o.storedBytes,
        dataBytes: 0,
        gtid: m.gtid,
        createdAt: m.createdAt,
        completedAt: m.completedAt,
        message: 'found in the repository',
        parentId: m.parent ?? '',
        fromLsn: m.lsn?.from ?? '',
        toLsn: m.lsn?.to ?? '',
      });
      added.push(m.id);
    }
    added.push(...syncArchivePieces(d, scan.complete));
    if (added.length) d.fleet.event('backup.catalog-synced', '', `${added.length} backups and binlog archive pieces added to the catalog from ${formatRepository(d.backup.repository.spec)}`);
  });
  return { added, incomplete: scan.incomplete, refused: scan.refused.map((r) => `${r.id}: ${r.error}`) };
}

// Pieces of continuous binlog archives (manifests with a binlog section), in the order they were
// written; an archive the catalog lacks is made turned off, its key the first piece's (each
// manifest holds the archive's data key sealed for its own id).
function syncArchivePieces(d: BackupDeps, manifests: Manifest[]): string[] {
  const t = d.fleet.store.binlogArchives;
  const pieces = manifests.filter((m) => m.binlog && !t.piece(m.id)).sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.binlog!.firstEventAt - b.binlog!.firstEventAt || a.binlog!.fromOffset - b.binlog!.fromOffset);
  for (const m of pieces) {
    const b = m.binlog!;
    if (!t.get(b.archive)) {
      t.enable({ cluster: b.archive, flavor: m.instance.flavor, keyId: m.id, dataKey: m.dataKey });
      t.disable(b.archive);
    }
    t.addPiece({ id: m.id, cluster: b.archive, sourceInstance: m.source.instanceId, file: b.file, fromOffset: b.fromOffset, toOffset: b.toOffset, gtids: b.gtids, before: b.before, firstEventAt: b.firstEventAt, lastEventAt: b.lastEventAt, storedBytes: m.objects[0]?.storedBytes ?? 0 });
  }
  return pieces.map((m) => m.id);
}
