import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import type { Backup } from '../../src/gen/berth/v1/Backup';
import { invalidArgument, notFound } from '../../src/errors';
import { BACKUP_ID } from '../../src/backup/repository';
import { isOneGtid } from '../../src/mysql/gtid';
import type { Logger } from '../../src/log';
import { unary } from '../../src/rpc';
import { checkName, checkShape } from '../../src/validate';
import { parseConstraints } from '../scheduler/constraints';
import type { BackupOps } from '../operations/backups';
import type { BackupRow } from '../store/backups';
import type { Store } from '../store/index';
import type { InstanceRow } from '../store/instances';
import type { Instance } from '../../src/gen/berth/v1/Instance';
import { toOperation } from './convert';
import type { FlavorImages } from './flavor';

export type BackupRpc = 'CreateBackup' | 'ListBackups' | 'GetBackup' | 'DeleteBackup' | 'RestoreBackup' | 'SyncBackupCatalog';

// At most 1 TB/s: a larger number is a mistake, not a limit.
const MAX_RATE = 1e12;

export interface BackupApiDeps {
  store: Store;
  backups: BackupOps;
  images: FlavorImages;
  adminUser: string;
  log: Logger;
  instanceOut: (i: InstanceRow) => Instance;
}

const checkBackupId = (id: string) => {
  if (!BACKUP_ID.test(id)) throw invalidArgument(`"${id.slice(0, 40)}" is not a backup id (b- and 12 hex digits)`);
  return id;
};

export function toBackup(b: BackupRow): Backup {
  return {
    id: b.id,
    instanceId: b.instanceId,
    instance: b.instanceName,
    cluster: b.cluster,
    flavor: b.flavor,
    sourceInstance: b.sourceInstance,
    sourceNode: b.sourceNode,
    method: b.method,
    repository: b.repository,
    status: b.status,
    storedBytes: b.storedBytes,
    dataBytes: b.dataBytes,
    gtid: b.gtid,
    operationId: b.operationId,
    message: b.message,
    createdAt: b.createdAt,
    completedAt: b.completedAt,
    parent: b.parentId,
    fromLsn: b.fromLsn,
    toLsn: b.toLsn,
  };
}

// "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601; whole seconds (binlog times are), not in the future.
export function pointInTime(v: string): Date {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.0+)?(Z|[+-]\d{2}:\d{2})?$/.exec(v.trim());
  const t = m ? new Date(`${m[1]}T${m[2]}${m[3] ?? 'Z'}`) : undefined;
  if (!t || Number.isNaN(t.getTime())) throw invalidArgument(`to "${v.slice(0, 40)}" is not a time: use "YYYY-MM-DD HH:MM:SS" (UTC) or ISO 8601 in whole seconds`);
  if (t.getTime() > Date.now()) throw invalidArgument(`to ${t.toISOString()} is in the future`);
  return t;
}

// One GTID of the backup's flavor, and not with a time as well.
export function checkUntilGtid(flavor: string, v: string, withTime: boolean): string {
  if (withTime) throw invalidArgument('give either to (a time) or until_gtid (a transaction), not both');
  const g = v.trim().toLowerCase();
  if (!isOneGtid(flavor, g)) throw invalidArgument(`until_gtid "${v.slice(0, 60)}" is not one ${flavor} GTID (${flavor === 'mysql' ? 'uuid:N' : 'domain-server-seq'})`);
  return g;
}

// Validated here, once; the operations (manager/operations/backup.ts, restore.ts) decide.
export function backupHandlers(d: BackupApiDeps): Pick<PortalHandlers, BackupRpc> {
  const { store, log } = d;
  const findBackup = (id: string) => {
    const b = store.backups.get(checkBackupId(id));
    if (!b) throw notFound(`no backup ${id}`);
    return b;
  };
  return {
    CreateBackup: unary(log, 'CreateBackup', async (req) => {
      if (!req.instance) throw invalidArgument('instance (an id or a name) is required');
      if (req.rateBytesPerSecond > MAX_RATE) throw invalidArgument(`rate_bytes_per_second must be at most ${MAX_RATE}`);
      // An instance, or a cluster by its name (the operation then reads one of its replicas).
      const ref = req.instance.slice(0, 200);
      const i = store.instances.find(ref) ?? (store.clusters.get(ref) ? store.instances.inCluster(ref).find((m) => m.clusterRole === 'primary') : undefined);
      if (!i) throw notFound(`no instance or cluster ${req.instance.slice(0, 64)}`);
      if (req.incremental && i.flavor !== 'mariadb') throw invalidArgument(`${ref} is ${i.flavor || 'of an unknown flavor'}: only MariaDB backups can be incremental (MySQL's CLONE has no incremental form; its binary logs carry the changes between full backups)`);
      const r = await d.backups.create(i, { rateBytesPerSecond: Number(req.rateBytesPerSecond), allowPrimary: req.allowPrimary, incremental: req.incremental });
      return { backup: toBackup(r.backup), operation: toOperation(r.operation) };
    }),
    ListBackups: unary(log, 'ListBackups', (req) => {
      const name = req.instance ? checkName('instance name', req.instance) : '';
      if (req.limit > 1000) throw invalidArgument(`limit must be at most 1000, got ${req.limit}`);
      return { backups: store.backups.list(name, req.limit || 100).map(toBackup) };
    }),
    GetBackup: unary(log, 'GetBackup', (req) => toBackup(findBackup(req.id))),
    DeleteBackup: unary(log, 'DeleteBackup', async (req) => toBackup(await d.backups.delete(findBackup(req.id).id))),
    RestoreBackup: unary(log, 'RestoreBackup', async (req) => {
      const b = findBackup(req.backup);
      const name = checkName('instance name', req.name);
      if (req.node) checkName('node name', req.node);
      const shape = req.resources ? checkShape(req.resources) : undefined;
      const to = req.to ? pointInTime(req.to) : undefined;
      const untilGtid = req.untilGtid ? checkUntilGtid(b.flavor, req.untilGtid, !!to) : undefined;
      const r = await d.backups.restore({ backupId: b.id, name, shape, to, untilGtid, node: req.node || undefined, constraints: parseConstraints(req.constraints), images: { mysql: d.images.mysql, mariadb: d.images.mariadb }, adminUser: d.adminUser });
      return { instance: d.instanceOut(r.instance), operation: toOperation(r.operation) };
    }),
    SyncBackupCatalog: unary(log, 'SyncBackupCatalog', () => d.backups.sync()),
  };
}
