import { createRequest, endpointOf, memberRow, mustCluster } from '../clusters/members';
import { MONITOR_USER } from '../clusters/types';
import type { ReplicationMode } from '../store/clusters';
import type { OperationDeps } from './deps';
import { admitClusterMembers, clusterSubjects, markRunning, removeMembers, seedReplica, type NewClusterRequest, type SeedOut } from './cluster-common';
import type { Admission, AdmitContext, OperationType, StepContext } from './types';

// Validated at the API edge (manager/api/clusters.ts).
export interface CreateClusterInput extends NewClusterRequest {
  replicas: number;
  replication: ReplicationMode;
  semiSyncTimeoutMs: number;
}

export interface ClusterCreateParams {
  cluster: string;
  primaryId: string;
  replicaIds: string[];
}

type Ctx = StepContext<ClusterCreateParams>;

// Every member placed at once (manager/clusters/placement.ts) and reserved, with the cluster's
// row, in the transaction that records the operation.
function admitCluster(d: OperationDeps, req: CreateClusterInput, a: AdmitContext): Admission<ClusterCreateParams> {
  const semiSyncTimeoutMs = req.replication === 'semi-sync' ? req.semiSyncTimeoutMs : 0;
  const { rows, relaxedSoft } = admitClusterMembers(d, req, 1 + req.replicas, a, { replication: req.replication, semiSyncTimeoutMs });
  const where = rows.map((r) => `${r.name} on ${r.node}`).join(', ');
  d.fleet.event('cluster.create-started', req.name, `${req.replication} cluster ${req.name}: ${where}${relaxedSoft ? ' (preferences dropped: no node met them)' : ''}`);
  const [primary, ...replicas] = rows;
  return { params: { cluster: req.name, primaryId: primary!.id, replicaIds: replicas.map((r) => r.id) }, subjects: clusterSubjects(d, req.name), ifBusy: 'refuse' };
}

// Builds a cluster whose members were placed and reserved with the operation (admission): the
// primary, read-only, with the cluster's replication and monitoring accounts (binlogged, so
// every copy has them); each replica from a hot copy of it, replicating by GTID; then the
// primary alone is made writable. Any failure before that undoes everything: containers, then
// reservations, then the cluster's row (the failed hook).
export function clusterCreateOperation(d: OperationDeps): OperationType<ClusterCreateParams, CreateClusterInput> {
  const fleet = d.fleet;
  const all = (p: ClusterCreateParams) => [p.primaryId, ...p.replicaIds];
  return {
    type: 'cluster-create',
    admit: (r, a) => admitCluster(d, r, a),
    release: { run: (ctx) => void fleet.change(() => all(ctx.params).forEach((id) => fleet.releaseInstance(id))), independent: true },
    failed: (ctx, f) => {
      const name = ctx.params.cluster;
      if (f.clean && fleet.store.instances.inCluster(name).length === 0) {
        fleet.deleteCluster(name);
        fleet.event('cluster.create-failed', name, `create of cluster ${name} failed and was undone: ${f.error}`);
      } else if (fleet.store.clusters.get(name)) {
        fleet.setClusterState(name, 'failed', { message: `create failed and was not fully undone (left: ${f.left.join(', ')}); delete the cluster to clean up: ${f.error}` });
      }
    },
    steps: [
      { name: 'create-primary', timeoutMs: 15 * 60_000, run: (ctx) => createPrimary(d, ctx), undo: (ctx) => removeMembers(d, [ctx.params.primaryId]) },
      { name: 'primary-accounts', retries: 2, backoffMs: 1000, run: (ctx) => accounts(d, ctx) },
      { name: 'seed-replicas', timeoutMs: 6 * 3600_000, run: (ctx) => seedAll(d, ctx), undo: (ctx) => removeMembers(d, ctx.params.replicaIds) },
      { name: 'open-primary', retries: 2, backoffMs: 1000, run: (ctx) => openPrimary(d, ctx) },
    ],
  };
}

async function createPrimary(d: OperationDeps, ctx: Ctx): Promise<{ containerId: string; flavor: string; version: string }> {
  const c = mustCluster(d, ctx.params.cluster);
  const p = memberRow(d, ctx.params.primaryId);
  await d.fleet.commit(() => d.fleet.updateInstance(p.id, { state: 'creating' }));
  const res = await d.agents.for(p.node).createInstance(createRequest(p, c, !!d.requireMysqlTls), d.agentCreateDeadlineMs);
  await d.fleet.commit(() => d.fleet.updateInstance(p.id, { state: 'creating', flavor: res.flavor, version: res.version, containerId: res.containerId }));
  d.fleet.setClusterState(c.name, 'creating', { flavor: res.flavor });
  return { containerId: res.containerId, flavor: res.flavor, version: res.version };
}

// Read-only (super_read_only too on MySQL), then the accounts replicas and the manager use,
// written to the binlog so every member gets them.
async function accounts(d: OperationDeps, ctx: Ctx): Promise<void> {
  const c = mustCluster(d, ctx.params.cluster);
  const ep = endpointOf(d, memberRow(d, ctx.params.primaryId));
  await ep.agent.setReadOnly({ id: ep.id, readOnly: true });
  await ep.agent.createReplicationUser({ id: ep.id, user: c.replUser, password: c.replPassword, binlog: true });
  await ep.agent.createReplicationUser({ id: ep.id, user: c.monitorUser || MONITOR_USER, password: c.monitorPassword, binlog: true, monitor: true });
}

// One after another: a MySQL donor serves one CLONE at a time ("Too many concurrent clone
// operations"), and copies of an empty primary are quick.
async function seedAll(d: OperationDeps, ctx: Ctx): Promise<Record<string, SeedOut>> {
  const out: Record<string, SeedOut> = {};
  for (const id of ctx.params.replicaIds) out[id] = await seedReplica(d, ctx, ctx.params.cluster, id);
  return out;
}

// Only now, with every replica replicating, does the primary take writes. Not persisted: a
// member boots read-only whatever its role, and only the manager opens the primary again.
async function openPrimary(d: OperationDeps, ctx: Ctx): Promise<void> {
  const ep = endpointOf(d, memberRow(d, ctx.params.primaryId));
  await ep.agent.setReadOnly({ id: ep.id, readOnly: false });
  await markRunning(d, [ctx.params.primaryId, ...ctx.params.replicaIds]);
  d.fleet.setClusterState(ctx.params.cluster, 'running', { message: '' });
  d.fleet.event('cluster.created', ctx.params.cluster, `cluster ${ctx.params.cluster} running: primary ${memberRow(d, ctx.params.primaryId).name}, ${ctx.params.replicaIds.length} replicas`);
}
