import type { EndpointNotice } from '../../endpoints/router';
import type { Forecast } from '../../capacity/forecast';
import { heartbeatFresh } from '../../scheduler/liveness';
import type { NodeSnapshot, SchedulerConfig } from '../../scheduler/types';
import type { InstanceRow } from '../../store/instances';
import type { UsageMap } from '../../state/usage';
import type { ReplicationMap } from '../../state/replication';

export interface AlertThresholds {
  // A data disk whose free space falls below this share of its size.
  diskFreePct: number;
  // An instance whose data directory grows past this share of its disk reservation.
  instanceDiskPct: number;
  // A replica more than this many seconds behind its source.
  replicationLagSeconds?: number;
  // A zone (or the fleet) whose common shapes run out within this many days at the recent
  // growth (capacity/forecast.ts).
  capacityRunwayDays?: number;
  // A backup policy's target with no verified restore drill younger than this (0: never alert).
  backupVerifiedHours?: number;
}

export const DEFAULT_THRESHOLDS: AlertThresholds = { diskFreePct: 10, instanceDiskPct: 90, replicationLagSeconds: 30, capacityRunwayDays: 14, backupVerifiedHours: 192 };

// A failover a DBA has not acknowledged yet (it also blocks the next automatic one).
export interface FailoverNotice {
  cluster: string;
  atMs: number;
  from: string;
  to: string;
  message: string;
}

// A running cluster in which no member takes writes (health/reconciler.ts ClusterProblem).
export interface NoWriterNotice {
  cluster: string;
  sinceMs: number;
  reason: string;
  action: string;
}

// A backup policy's target (an instance or a cluster) and what its restore drills found
// (manager/backups/status.ts).
export interface BackupHealth {
  // 'instance:<name>' or 'cluster:<name>'.
  target: string;
  // When the target's policy was made: a new policy is given the threshold to verify a backup.
  policySince: string;
  // The newest drill that ended.
  lastDrill?: { id: string; backupId: string; outcome: string; endedAt: string; message: string };
  lastVerifiedAt: string;
}

// Everything a rule may look at, gathered once per evaluation. Rules never do I/O.
export interface HealthState {
  now: number;
  nodes: NodeSnapshot[];
  instances: InstanceRow[];
  usage: UsageMap;
  scheduler: SchedulerConfig;
  thresholds: AlertThresholds;
  replication?: ReplicationMap;
  failovers?: FailoverNotice[];
  noWriter?: NoWriterNotice[];
  capacityRunway?: Forecast[];
  backups?: BackupHealth[];
  binlogArchives?: BinlogArchiveNotice[];
  // Stable endpoints their router reports without a backend (manager/endpoints/router.ts).
  endpoints?: EndpointNotice[];
}

// What the binlog archiver reconciler saw of each archive with archiving on.
export interface BinlogArchiveNotice {
  cluster: string;
  running: boolean;
  lagSeconds: number;
  gap: string;
  error: string;
}

export type Severity = 'warning' | 'critical';

export interface Firing {
  rule: string;
  // Unique among the rule's alerts: a node name, `node:/disk`, an instance id.
  subject: string;
  severity: Severity;
  message: string;
}

// One rule per module: a name and a pure evaluate(state) → what fires now. Adding one (a
// replication-lag rule, say) is a new file and a line in rules/index.ts.
export interface AlertRule {
  name: string;
  evaluate(state: HealthState): Firing[];
}

export const nodeIsDown = (n: NodeSnapshot, s: HealthState) => !heartbeatFresh(n.lastHeartbeatMs, s.now, s.scheduler);
