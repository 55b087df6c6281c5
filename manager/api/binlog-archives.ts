import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import type { BinlogArchive } from '../../src/gen/berth/v1/BinlogArchive';
import { failedPrecondition, notFound } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { Flavor } from '../../src/mysql/dialect';
import { formatGtidSet } from '../../src/mysql/gtid';
import { unary } from '../../src/rpc';
import { checkName } from '../../src/validate';
import { archivedSet } from '../clusters/binlog-archive-decide';
import { newArchiveKey, type ArchiveView } from '../health/binlog-archiver';
import type { OperationDeps } from '../operations/deps';
import type { FleetState } from '../state/fleet';

export type BinlogArchiveRpc = 'SetBinlogArchiving' | 'GetBinlogArchive';

export interface BinlogArchiveApiDeps {
  fleet: FleetState;
  backup: OperationDeps['backup'];
  view: (cluster: string) => ArchiveView | undefined;
  log: Logger;
}

// The switch is a flag on the cluster's archive (a backup policy can drive it later); the
// archiver reconciler (health/binlog-archiver.ts) acts on it within a second.
export function binlogArchiveHandlers(d: BinlogArchiveApiDeps): Pick<PortalHandlers, BinlogArchiveRpc> {
  return {
    SetBinlogArchiving: unary(d.log, 'SetBinlogArchiving', async (req) => {
      const name = checkName('cluster name', req.cluster);
      const store = d.fleet.store;
      const c = store.clusters.get(name);
      if (!c) throw notFound(`no cluster ${name}`);
      if (!d.backup) throw failedPrecondition('this manager has no backup repository: start it with --backup-repository dir:/path');
      const flavor = c.flavor || store.instances.inCluster(name)[0]?.flavor || 'mariadb';
      await d.fleet.commit(() => {
        if (req.enabled) store.binlogArchives.enable({ cluster: name, flavor, ...newArchiveKey(d.backup!.keys) });
        else if (store.binlogArchives.get(name)) store.binlogArchives.disable(name);
        d.fleet.event(req.enabled ? 'binlog_archive.enabled' : 'binlog_archive.disabled', name, `continuous binlog archiving of ${name} turned ${req.enabled ? 'on' : 'off'}`);
      });
      return archiveOut(d, name);
    }),
    GetBinlogArchive: unary(d.log, 'GetBinlogArchive', async (req) => archiveOut(d, checkName('cluster name', req.cluster))),
  };
}

function archiveOut(d: BinlogArchiveApiDeps, cluster: string): BinlogArchive {
  const a = d.fleet.store.binlogArchives.get(cluster);
  if (!a) throw notFound(`cluster ${cluster} has no binlog archive: turn it on with berthctl backup archive enable ${cluster}`);
  const pieces = d.fleet.store.binlogArchives.pieces(cluster);
  const v = d.view(cluster);
  const archived = archivedSet(a.flavor as Flavor, pieces);
  return {
    cluster, enabled: a.enabled, node: a.node, sourceInstance: a.source, running: v?.running ?? false, pieces: pieces.length,
    storedBytes: pieces.reduce((n, p) => n + p.storedBytes, 0), archivedGtids: archived ? formatGtidSet(archived) : '',
    receivedGtids: v?.receivedGtids ?? '', lagSeconds: v?.lagSeconds ?? 0, lastEventAt: v?.lastEventAt ?? 0, gap: a.gap, error: v?.error ?? '',
  };
}
