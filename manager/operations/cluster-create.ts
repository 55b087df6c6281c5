import { createRequest, endpointOf, memberRow, mustCluster } from '../clusters/members';
import { MONITOR_USER } from '../clusters/types';
import type { OperationDeps } from './deps';
import { markRunning, removeMembers, seedReplica, type SeedOut } from './cluster-common';
import type { OperationType, StepContext } from './types';

export interface ClusterCreateParams {
  cluster: string;
  primaryId: string;
  replicaIds: string[];
}

type Ctx = StepContext<ClusterCreateParams>;

// Builds a cluster whose members were placed and reserved with the operation (step 0): the
// primary, read-only, with the cluster's replication and monitoring accounts (binlogged, so
// every copy has them); each replica from a hot copy of it, replicating by GTID; then the
// primary alone is made writable. Any failure before that undoes everything: containers, then
// reservations, then the cluster's row (the failed hook).
export function clusterCreateOperation(d: OperationDeps): OperationType<ClusterCreateParams> {
  const fleet = d.fleet;
  const all = (p: ClusterCreateParams) => [p.primaryId, ...p.replicaIds];
  return {
    type: 'cluster-create',
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
      { name: 'reserve', run: async () => undefined, undo: async (ctx) => void fleet.change(() => all(ctx.params).forEach((id) => fleet.releaseInstance(id))), independentUndo: true },
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
  for (const id of ctx.params.replicaIds) out[id] = await seedReplica(d, ctx as StepContext<unknown>, ctx.params.cluster, id);
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
