import type { AgentHandlers } from '../../src/gen/berth/v1/Agent';
import { invalidArgument } from '../../src/errors';
import type { Logger } from '../../src/log';
import { DEFAULT_HANDLER_LIMIT_MS, unary } from '../../src/rpc';
import { peerOf, type TlsFiles } from '../../src/tls/credentials';
import type { DockerEngine } from '../docker';
import type { Instances } from '../instance/lifecycle';
import { streamBackup } from './backup';
import { seedByClone } from './clone';
import { Replication } from './replication';
import { GroupControl, GROUP_START_LIMIT_MS } from './group';
import { seedFromBackup, type SeedContext } from './seed';
import { serverStream } from '../../src/rpc-stream';
import { WriteGate } from '../write-gate';
import { backupToRepository, seedFromRepository } from './repository-backup';
import { applyBinlogs, archiveBinlogs } from './binlog-archive';
import { BinlogArchivers } from './binlog-archiver';
import { verifyTables } from './verify-tables';

type MovementRpc =
  | 'StreamBackup'
  | 'SeedInstance'
  | 'CreateReplicationUser'
  | 'DropReplicationUser'
  | 'ConfigureReplica'
  | 'StartReplica'
  | 'StopReplica'
  | 'ResetReplica'
  | 'GetReplicaStatus'
  | 'SetReadOnly'
  | 'KillClientConnections'
  | 'WaitForGtid'
  | 'BackupInstance'
  | 'ArchiveBinlogs'
  | 'ApplyBinlogs'
  | 'RunBinlogArchiver'
  | 'StopBinlogArchiver'
  | 'VerifyTables'
  | 'StartGroupReplication'
  | 'GetGroupStatus';
export type MovementHandlers = Pick<AgentHandlers, MovementRpc>;

const ID = /^i-[0-9a-f]{10,32}$/;
function checkId(id: string): string {
  if (!ID.test(id)) throw invalidArgument(`instance id "${id.slice(0, 40)}" is not a berth instance id`);
  return id;
}

// WaitForGtid waits as long as its request says (a catch-up, a failover's relay-log apply),
// plus time to answer, within an hour; never less than the default limit.
export const MAX_GTID_WAIT_MS = 3600_000;
export function gtidWaitLimitMs(timeoutMs: number): number {
  return Math.min(Math.max(DEFAULT_HANDLER_LIMIT_MS, timeoutMs + 10_000), MAX_GTID_WAIT_MS);
}

// The agent's data-movement RPCs: hot copy (source and target side), replication control.
// `listenHost`: where this agent's gRPC server listens, and so where a direct copy socket is
// offered (the caller reached us there); without it copies are relayed over gRPC only.
// `gate` decides whether a request may make a server writable (agent/write-gate.ts); the write
// lease tells it when it fenced one.
export function movementHandlers(docker: DockerEngine, instances: Instances, node: { node: string; disks: string[]; tls?: TlsFiles; listenHost?: string }, log: Logger, gate = new WriteGate()): MovementHandlers {
  const repl = new Replication(instances);
  const group = new GroupControl(instances);
  const ctx: SeedContext = { docker, instances, node: node.node, disks: node.disks, log, tls: node.tls };
  const archivers = new BinlogArchivers(ctx);
  return {
    StreamBackup: serverStream(log, 'StreamBackup', (req, signal, call) => {
      // The socket is for the identity this call was authorized as (agent/server.ts).
      const direct = req.direct && node.listenHost ? { host: node.listenHost, tls: node.tls, peer: peerOf(call) } : undefined;
      return streamBackup(docker, instances, node.node, checkId(req.id), signal, direct);
    }),
    SeedInstance: serverStream(log, 'SeedInstance', (req, signal) => {
      checkId(req.id);
      if (req.method === 'mariabackup') return seedFromBackup(ctx, req, signal);
      if (req.method === 'clone') return seedByClone(ctx, req, signal);
      if (req.method === 'restore') return seedFromRepository(ctx, req, signal);
      throw invalidArgument(`copy method "${req.method.slice(0, 20)}" is not mariabackup, clone or restore`);
    }),
    CreateReplicationUser: unary(log, 'CreateReplicationUser', async (req) => (await repl.createUser({ ...req, id: checkId(req.id) }), {})),
    DropReplicationUser: unary(log, 'DropReplicationUser', async (req) => (await repl.dropUser({ ...req, id: checkId(req.id) }), {})),
    ConfigureReplica: unary(log, 'ConfigureReplica', (req) => repl.configure({ ...req, id: checkId(req.id) })),
    StartReplica: unary(log, 'StartReplica', (req) => repl.start(checkId(req.id))),
    StopReplica: unary(log, 'StopReplica', (req) => repl.stop(checkId(req.id), req.ioOnly)),
    ResetReplica: unary(log, 'ResetReplica', (req) => repl.reset(checkId(req.id))),
    GetReplicaStatus: unary(log, 'GetReplicaStatus', (req) => repl.status(checkId(req.id))),
    StartGroupReplication: unary(log, 'StartGroupReplication', (req) => group.start({ ...req, id: checkId(req.id) }), GROUP_START_LIMIT_MS),
    GetGroupStatus: unary(log, 'GetGroupStatus', (req) => group.status(checkId(req.id))),
    SetReadOnly: unary(log, 'SetReadOnly', async (req) => {
      gate.admit(checkId(req.id), req);
      const res = await repl.setReadOnly({ ...req, id: req.id });
      gate.onApplied(req.id, req);
      return res;
    }),
    KillClientConnections: unary(log, 'KillClientConnections', (req) => repl.killClients(checkId(req.id))),
    BackupInstance: serverStream(log, 'BackupInstance', (req, signal) => backupToRepository(ctx, { ...req, id: checkId(req.id) }, signal)),
    ArchiveBinlogs: unary(log, 'ArchiveBinlogs', (req) => archiveBinlogs(ctx, { ...req, id: checkId(req.id) }), 30 * 60_000),
    ApplyBinlogs: unary(log, 'ApplyBinlogs', (req) => applyBinlogs(ctx, { ...req, id: checkId(req.id) }), 65 * 60_000),
    RunBinlogArchiver: unary(log, 'RunBinlogArchiver', (req) => archivers.run(req)),
    StopBinlogArchiver: unary(log, 'StopBinlogArchiver', (req) => archivers.stop(req)),
    // A drill's checks read every table: minutes on a large instance.
    VerifyTables: unary(log, 'VerifyTables', (req) => verifyTables(instances, checkId(req.id), Math.min(req.sample, 1000)), 30 * 60_000),
    WaitForGtid: unary(log, 'WaitForGtid', (req) => repl.waitForGtid(checkId(req.id), req.gtidSet, Math.min(req.timeoutMs, MAX_GTID_WAIT_MS - 10_000)), (req) => gtidWaitLimitMs(req.timeoutMs)),
  };
}
