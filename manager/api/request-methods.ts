import { failedPrecondition } from '../../src/errors';
import type { Role } from '../../src/tls/ca';
import { TokensTable } from '../store/tokens';
import { clusterView, type ViewDeps } from './cluster-view';
import type { RequestRow } from '../store/requests';
import { servingNode, toInstance, toOperation } from './convert';
import { toBackup } from './backups';
import type { IdempotentMethod } from './requests';

export interface ReplayDeps extends ViewDeps {
  tokens: TokensTable;
}

// Every mutating portal RPC but CreateInstance (which also answers a retry by name and shape, and
// passes its id to Engine.submit, recorded with the reservation) and what a retry with its request
// id answers.
export function portalRequestMethods(d: ReplayDeps): Record<string, IdempotentMethod> {
  const opOf = (row: RequestRow) => {
    const op = d.store.operations.get(row.operationId);
    if (!op) throw failedPrecondition(`request_id ${row.id}: its operation ${row.operationId} is past retention`);
    return op;
  };
  // The operation the first call started, as it stands now.
  const operation: IdempotentMethod = {
    replay: (row) => toOperation(opOf(row)),
    remember: (res: { id: string; instanceId: string }) => ({ operationId: res.id, instanceId: res.instanceId }),
  };
  // The first call's answer, word for word.
  const answer: IdempotentMethod = {
    replay: (row) => JSON.parse(row.result) as unknown,
    remember: (res: unknown) => ({ result: JSON.stringify(res) }),
  };
  // A token is shown once and only its hash is kept, so a retry cannot show the first one again:
  // it gets a new secret for the same token (the first, never seen by the caller, stops working),
  // unless the token was revoked or replaced since.
  const createToken: IdempotentMethod = {
    replay: (row) => {
      const t = JSON.parse(row.result) as { name: string; role: Role; hash: string };
      const token = d.tokens.reissue(t.name, t.hash);
      if (!token) throw failedPrecondition(`request_id ${row.id}: token ${t.name} was revoked or replaced since it was created`);
      row.result = JSON.stringify({ ...t, hash: TokensTable.hash(token) });
      d.store.requests.setResult(row.caller, row.id, row.result);
      return { name: t.name, role: t.role, token };
    },
    remember: (res: { name: string; role: string; token: string }) => ({ result: JSON.stringify({ name: res.name, role: res.role, hash: TokensTable.hash(res.token) }) }),
  };
  const createCluster: IdempotentMethod = {
    replay: async (row) => {
      const op = opOf(row);
      const name = (op.params as { cluster: string }).cluster;
      const c = d.store.clusters.get(name);
      if (!c) throw failedPrecondition(`request_id ${row.id} created cluster ${name}, which has been deleted since`);
      const p = d.store.instances.get((op.params as { primaryId: string }).primaryId);
      const host = p ? servingNode(d.snapshot, p.node, d.scheduler, Date.now()).host : '';
      return { cluster: await clusterView(d, c, false), operation: toOperation(op), credentials: p ? { instanceId: p.id, host, port: p.port, user: p.adminUser, password: p.adminPassword } : null };
    },
    remember: (res: { operation: { id: string } }) => ({ operationId: res.operation.id }),
  };
  // A backup: its catalog row and operation as they stand now.
  const createBackup: IdempotentMethod = {
    replay: (row) => {
      const op = opOf(row);
      const b = d.store.backups.get((op.params as { backupId: string }).backupId);
      if (!b) throw failedPrecondition(`request_id ${row.id} started backup ${(op.params as { backupId: string }).backupId}, which has been deleted since`);
      return { backup: toBackup(b), operation: toOperation(op) };
    },
    remember: (res: { operation: { id: string } }) => ({ operationId: res.operation.id }),
  };
  const restoreBackup: IdempotentMethod = {
    replay: (row) => {
      const op = opOf(row);
      const i = d.store.instances.get((op.params as { instanceId: string }).instanceId);
      if (!i) throw failedPrecondition(`request_id ${row.id} restored into instance ${(op.params as { instanceId: string }).instanceId}, which has been deleted since`);
      return { instance: toInstance(i, servingNode(d.snapshot, i.node, d.scheduler, Date.now())), operation: toOperation(op) };
    },
    remember: (res: { instance: { id: string }; operation: { id: string } }) => ({ operationId: res.operation.id, instanceId: res.instance.id }),
  };
  return {
    CreateBackup: createBackup,
    RestoreBackup: restoreBackup,
    DeleteBackup: answer,
    DeleteInstance: operation,
    ResizeInstance: operation,
    DrainNode: operation,
    RetryOperation: operation,
    DeleteCluster: operation,
    AddReplica: operation,
    RemoveReplica: operation,
    Switchover: operation,
    CreateCluster: createCluster,
    CordonNode: answer,
    UncordonNode: answer,
    RemoveNode: answer,
    RevokeToken: answer,
    RevokeCertificate: answer,
    AcknowledgeFailover: answer,
    CreateToken: createToken,
  };
}
