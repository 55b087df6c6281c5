import type { EndpointRouter } from '../endpoints/router';
import type { AgentPool } from '../agents/pool';
import type { SchedulerConfig } from '../scheduler/types';
import type { FleetState } from '../state/fleet';
import type { InstanceRow } from '../store/instances';
import type { OnDiscarded } from '../movement/discard';
import type { FailoverLimits } from '../movement/decide';
import type { UsageMap } from '../state/usage';
import type { Subject } from './types';
import { formatRepository, type Repository } from '../../src/backup/repository';
import type { S3Credentials } from '../../src/backup/s3-repository';
import type { SecretKey } from '../../src/security/secretbox';
import { failedPrecondition } from '../../src/errors';

// What operation types are built from: the fleet state owner (every change to nodes and
// instances), the agents, and the settings their admissions decide with.
export interface OperationDeps {
  fleet: FleetState;
  // raw: the same channel for server-streaming calls (a hot copy's progress); fakes may omit it.
  agents: Pick<AgentPool, 'for'> & Partial<Pick<AgentPool, 'raw'>>;
  // The agent initializes a data directory and waits for mysqld: minutes on a slow disk.
  agentCreateDeadlineMs: number;
  agentRemoveDeadlineMs?: number;
  // Creates ask the agent for require_secure_transport (--mysql-require-tls).
  requireMysqlTls?: boolean;
  // Galera's ports above each member's instance port (--galera-port-offset).
  galeraPortOffset?: number;
  // Placement (creates, clusters, migrations' targets).
  scheduler: SchedulerConfig;
  // New instances and clusters: the image when the caller names none, and the admin user.
  defaultImage?: string;
  adminUser?: string;
  // Told how long each placement decision took (the scheduler latency metric).
  onSchedule?: (seconds: number, ok: boolean) => void;
  // Measured usage: a resize never shrinks a disk below what the data uses.
  usage?: Pick<UsageMap, 'get'>;
  // Migrations a drain runs at a time.
  drainConcurrency?: number;
  failover?: FailoverConfig;
  // The backup repository (--backup-repository); without it backups and restores are refused.
  backup?: BackupConfig;
  // Stable endpoints (--endpoint-ports): operations that move a primary switch them.
  endpoints?: Pick<EndpointRouter, 'route' | 'release'>;
}

// The backup repository as the manager sees it (--backup-repository, its key file).
export interface BackupConfig {
  repository: Repository;
  // s3: its access key (--backup-s3-credentials-file), sent to agents with each request.
  credentials?: S3Credentials;
  // The first seals new backups' data keys; all of them open (a rotated key stays readable).
  keys: SecretKey[];
  // Default bytes per second of a backup (0: unlimited).
  rateBytesPerSecond: number;
}

export type BackupDeps = OperationDeps & { backup: BackupConfig };

// What an agent request names the repository by: its spec, and for s3: the credentials (over
// the manager's mTLS channel, as the data key; the spec itself never holds a secret).
export function repositoryFields(cfg: BackupConfig) {
  const c = cfg.credentials;
  return { repository: formatRepository(cfg.repository.spec), repositoryCredentials: c ? { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } : null };
}

// The deps of the backup and restore types: reading `backup` without a repository refuses with
// FAILED_PRECONDITION, at admission (nothing recorded) or in a step.
export function backupDeps(d: OperationDeps): BackupDeps {
  return Object.create(d, {
    backup: {
      get: () => {
        if (!d.backup) throw failedPrecondition('this manager has no backup repository: start it with --backup-repository dir:/path');
        return d.backup;
      },
    },
  }) as BackupDeps;
}

export interface FailoverConfig extends FailoverLimits {
  // How long the chosen replica may take to apply what it received.
  relayApplyTimeoutMs: number;
  // Agent calls during a failover: a silent agent must not hold the failover for the default 10 s.
  agentDeadlineMs: number;
  onDone?: (cluster: string) => void;
}

export const DEFAULT_FAILOVER: FailoverConfig = { maxRelayTransactions: 100_000, relayApplyTimeoutMs: 30_000, agentDeadlineMs: 3000 };

// The instance an operation is about. Operations recorded before parameters existed name it
// only as their subject.
export function instanceIdOf(ctx: { params: object; subjects: readonly Subject[] }): string {
  const p = ctx.params as { instanceId?: string };
  return p.instanceId || ctx.subjects.find((s) => s.kind === 'instance')?.name || '';
}

export function mustInstance(d: OperationDeps, id: string): InstanceRow {
  const i = d.fleet.store.instances.get(id);
  if (!i) throw new Error(`instance ${id} is gone from the store`);
  return i;
}

// Defined beside the agent pool (clusters/members.ts builds members' requests too).
export { agentCreateRequest } from '../agents/create-request';

// Records a copy that went to the trash instead of being deleted (movement/discard.ts): where it
// is and what it held that the server that stayed lacks, in the store and an event.
export function discardRecorder(d: OperationDeps, ctx: { opId: string }, instanceId: string, node: string, reason: string): OnDiscarded {
  return (g) => {
    if (g.purged) return;
    const i = d.fleet.store.instances.get(instanceId);
    d.fleet.recordDiscard({
      instanceId,
      instanceName: i?.name ?? instanceId,
      cluster: i?.clusterName ?? '',
      node,
      path: g.trashPath,
      flavor: i?.flavor ?? '',
      image: i?.image ?? '',
      unseenGtids: g.unseenGtids,
      unseenCount: g.unseenCount,
      reason,
      operationId: ctx.opId,
    });
  };
}
