import { randomBytes } from 'node:crypto';
import { makeManifest, newBackupId, openDataKey, sealDataKey } from '../../src/backup/repository';
import type { Flavor } from '../../src/mysql/dialect';
import { formatGtidSet } from '../../src/mysql/gtid';
import type { Logger } from '../../src/log';
import type { BinlogArchiverStatus__Output } from '../../src/gen/berth/v1/BinlogArchiverStatus';
import type { SealedBinlogPiece__Output } from '../../src/gen/berth/v1/SealedBinlogPiece';
import { heartbeatFresh } from '../scheduler/liveness';
import type { SchedulerConfig } from '../scheduler/types';
import type { FleetState } from '../state/fleet';
import type { ReplicationMap } from '../state/replication';
import type { BinlogArchiveRow } from '../store/binlog-archives';
import { repositoryFields, type OperationDeps } from '../operations/deps';
import { archiveBehind, archivedSet, chooseArchiverNode, gapBefore } from '../clusters/binlog-archive-decide';

// Continuous binlog archiving, the manager's side (docs/backup.md): every period, for each
// cluster with archiving on, the archiver runs on a host other than the primary's and streams
// from the current primary (a failover or switchover changes the source; the agent seals the old
// stream's tail and continues from what the archive holds); the pieces it sealed are recorded
// (manifest in the repository, then the catalog), each checked to continue the archive without a
// gap. What it sees is kept for the alert rules and the metrics.
export interface ArchiveView {
  cluster: string;
  node: string;
  source: string;
  running: boolean;
  pieces: number;
  gap: string;
  error: string;
  receivedGtids: string;
  // Seconds the primary has held transactions the archiver had not received (0: none).
  lagSeconds: number;
  lastEventAt: number;
}

export interface ArchiverDeps {
  fleet: FleetState;
  agents: OperationDeps['agents'];
  backup: OperationDeps['backup'];
  replication: ReplicationMap;
  scheduler: Pick<SchedulerConfig, 'nodeTimeoutMs'>;
  log: Logger;
}

// The tail is on the archiver's host within the stream's latency whatever the seal period; a
// piece every 5 s (while there are writes) bounds what the repository lacks if that host is
// lost too, without a directory and a manifest per second per cluster.
export const DEFAULT_ARCHIVER = { periodMs: 1000, sealEveryMs: 5000, agentDeadlineMs: 20_000 };

export class BinlogArchiveReconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly recorded = new Map<string, string[]>();
  private readonly behindSince = new Map<string, number>();
  private readonly views = new Map<string, ArchiveView>();

  constructor(
    private readonly d: ArchiverDeps,
    private readonly cfg = DEFAULT_ARCHIVER,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.cfg.periodMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  archives(): ArchiveView[] {
    return [...this.views.values()];
  }

  view(cluster: string): ArchiveView | undefined {
    return this.views.get(cluster);
  }

  tick(): Promise<void> {
    this.running ??= this.reconcileAll().finally(() => (this.running = undefined));
    return this.running;
  }

  private async reconcileAll(): Promise<void> {
    if (!this.d.backup) return;
    for (const a of this.d.fleet.store.binlogArchives.all()) {
      try {
        if (a.enabled) await this.reconcile(a);
        else await this.retire(a);
      } catch (err) {
        const v = this.views.get(a.cluster);
        if (v) v.error = (err as Error).message;
        this.d.log.warn({ cluster: a.cluster, err: (err as Error).message }, 'binlog archive');
      }
    }
  }

  private async reconcile(a: BinlogArchiveRow): Promise<void> {
    const store = this.d.fleet.store;
    const cluster = store.clusters.get(a.cluster);
    const primary = store.instances.inCluster(a.cluster).find((m) => m.clusterRole === 'primary' && !m.fenced && m.state === 'running');
    if (!cluster || !primary) return;
    const now = Date.now();
    const healthy = store.nodes.all().filter((n) => heartbeatFresh(this.d.fleet.snapshot.get(n.name)?.lastHeartbeatMs ?? 0, now, this.d.scheduler)).map((n) => n.name);
    const node = chooseArchiverNode({ current: a.node, primaryNode: primary.node, healthy });
    if (!node) return;
    if (a.node && a.node !== node) await this.stopOn(a, a.node).catch((err: Error) => this.d.log.warn({ cluster: a.cluster, node: a.node, err: err.message }, 'the old archiver could not be stopped: its unsealed tail is lost'));
    const host = store.nodes.get(primary.node)!.host;
    const dataKey = this.dataKey(a);
    const st = await this.d.agents.for(node).runBinlogArchiver(
      {
        archive: a.cluster, flavor: a.flavor, image: primary.image, sourceInstance: primary.id, sourceHost: host, sourcePort: primary.port, user: cluster.replUser, password: cluster.replPassword,
        startGtids: formatGtidSet(archivedSet(a.flavor as Flavor, store.binlogArchives.pieces(a.cluster)) ?? archivedSet(a.flavor as Flavor, [{ gtids: '' }])!),
        ...repositoryFields(this.d.backup!), dataKey, recorded: this.recorded.get(a.cluster) ?? [], sealEveryMs: this.cfg.sealEveryMs,
      },
      this.cfg.agentDeadlineMs,
    );
    if (a.node !== node || a.source !== primary.id) await this.d.fleet.commit(() => store.binlogArchives.place(a.cluster, node, primary.id));
    await this.record(a, st);
    this.observe(a, node, st, this.d.replication.get(primary.id)?.state.executedGtids ?? '', now);
  }

  private async stopOn(a: BinlogArchiveRow, node: string): Promise<void> {
    const st = await this.d.agents.for(node).stopBinlogArchiver({ archive: a.cluster, recorded: this.recorded.get(a.cluster) ?? [] }, this.cfg.agentDeadlineMs);
    await this.record(a, st);
    this.recorded.set(a.cluster, []);
  }

  private async retire(a: BinlogArchiveRow): Promise<void> {
    if (!a.node) return;
    await this.stopOn(a, a.node);
    await this.d.fleet.commit(() => this.d.fleet.store.binlogArchives.place(a.cluster, '', ''));
    this.views.delete(a.cluster);
  }

  private dataKey(a: BinlogArchiveRow): Buffer {
    return openDataKey(this.d.backup!.keys, { id: a.keyId, dataKey: a.dataKey });
  }

  // Each piece: checked against the archive (a gap is an event, kept until archiving is turned
  // off and on), its manifest written, then the catalog row; acknowledged on the next call.
  private async record(a: BinlogArchiveRow, st: BinlogArchiverStatus__Output): Promise<void> {
    const store = this.d.fleet.store;
    const acked: string[] = [];
    for (const p of st.pieces) {
      if (store.binlogArchives.piece(p.id)) {
        acked.push(p.id);
        continue;
      }
      const gap = gapBefore(a.flavor as Flavor, archivedSet(a.flavor as Flavor, store.binlogArchives.pieces(a.cluster)), p);
      await this.writeManifest(a, p);
      await this.d.fleet.commit(() => {
        store.binlogArchives.addPiece({ id: p.id, cluster: a.cluster, sourceInstance: p.sourceInstance, file: p.file, fromOffset: p.fromOffset, toOffset: p.toOffset, gtids: p.gtids, before: p.before, firstEventAt: p.firstEventAt, lastEventAt: p.lastEventAt, storedBytes: p.object?.storedBytes ?? 0 });
        if (gap && !store.binlogArchives.get(a.cluster)?.gap) {
          const msg = `binlog archive of ${a.cluster} has a gap before piece ${p.id} (${p.file} of ${p.sourceInstance}): ${gap} missing`;
          store.binlogArchives.setGap(a.cluster, msg);
          this.d.fleet.event('binlog_archive.gap', a.cluster, msg);
        }
      });
      acked.push(p.id);
    }
    this.recorded.set(a.cluster, acked);
  }

  private async writeManifest(a: BinlogArchiveRow, p: SealedBinlogPiece__Output): Promise<void> {
    const store = this.d.fleet.store;
    const src = store.instances.get(p.sourceInstance);
    const now = new Date().toISOString();
    const o = p.object!;
    const manifest = makeManifest(
      this.d.backup!.keys,
      {
        id: p.id, createdAt: now, completedAt: now,
        instance: { id: src?.id ?? p.sourceInstance, name: src?.name ?? '', cluster: a.cluster, flavor: a.flavor, version: src?.version ?? '', image: src?.image ?? '', cpuMillis: src?.cpuMillis ?? 0, memoryBytes: src?.memoryBytes ?? 0, diskBytes: src?.diskBytes ?? 0 },
        source: { instanceId: p.sourceInstance, name: src?.name ?? '', node: src?.node ?? '', role: 'primary' },
        method: 'binlog', archive: 'binlog', compression: 'none', gtid: p.gtids,
        objects: [{ name: o.name, storedBytes: o.storedBytes, storedSha256: o.storedSha256, plainBytes: o.plainBytes, plainSha256: o.plainSha256 }],
        binlog: { archive: a.cluster, file: p.file, fromOffset: p.fromOffset, toOffset: p.toOffset, gtids: p.gtids, before: p.before, firstEventAt: p.firstEventAt, lastEventAt: p.lastEventAt },
      },
      this.dataKey(a),
    );
    await this.d.backup!.repository.writeManifest(manifest);
  }

  private observe(a: BinlogArchiveRow, node: string, st: BinlogArchiverStatus__Output, primaryExecuted: string, now: number): void {
    let lag = 0;
    if (archiveBehind(a.flavor as Flavor, primaryExecuted, st.receivedGtids)) {
      const since = this.behindSince.get(a.cluster) ?? now;
      this.behindSince.set(a.cluster, since);
      lag = (now - since) / 1000;
    } else this.behindSince.delete(a.cluster);
    const row = this.d.fleet.store.binlogArchives.get(a.cluster);
    this.views.set(a.cluster, { cluster: a.cluster, node, source: st.sourceInstance, running: st.running, pieces: this.d.fleet.store.binlogArchives.pieces(a.cluster).length, gap: row?.gap ?? '', error: st.error, receivedGtids: st.receivedGtids, lagSeconds: lag, lastEventAt: Number(st.lastEventAt) });
  }
}

// A new archive's data key, sealed with the repository key (bound to the archive's key id).
export function newArchiveKey(keys: Parameters<typeof sealDataKey>[0]): { keyId: string; dataKey: string } {
  const keyId = newBackupId();
  return { keyId, dataKey: sealDataKey(keys, keyId, randomBytes(32)) };
}
