import { randomUUID } from 'node:crypto';
import { invalidArgument } from '../../src/errors';
import { groupPort } from '../clusters/group';
import { galeraPorts, isGaleraFlavor } from '../clusters/galera';
import { galeraBootstrap, galeraJoinAll, openWriter } from './galera-steps';
import { createRequest, endpointOf, groupConfigOf, memberRow, mustCluster, targetOf } from '../clusters/members';
import { MONITOR_USER } from '../clusters/types';
import { copy, discardCopy } from '../movement/index';
import { discardRecorder, type OperationDeps } from './deps';
import { admitClusterMembers, clusterSubjects, markRunning, removeMembers, type NewClusterRequest, type SeedOut } from './cluster-common';
import type { Admission, AdmitContext, OperationType, StepContext } from './types';

// Validated at the API edge (manager/api/clusters.ts).
export interface CreateGroupInput extends NewClusterRequest {
  members: number;
  consistency: string;
  memberWeight: number;
}

export interface GroupCreateParams {
  cluster: string;
  // The first one makes the group (bootstrap); the others join it.
  memberIds: string[];
}

type Ctx = StepContext<GroupCreateParams>;

// Every member placed at once on distinct hosts and reserved, with the cluster's row (its group
// name a fresh UUID), in the transaction that records the operation.
function admitGroup(d: OperationDeps, req: CreateGroupInput, a: AdmitContext): Admission<GroupCreateParams> {
  const { cluster: c, rows } = admitClusterMembers(
    d, req, req.members, a,
    { replication: 'group', semiSyncTimeoutMs: 0, groupName: randomUUID(), groupConsistency: req.consistency, memberWeight: req.memberWeight },
    (placed) => {
      const tooHigh = placed.placements.find((p) => groupPort(p.port) > 65535 || galeraPorts(p.port, d.galeraPortOffset).sst > 65535);
      if (tooHigh) throw invalidArgument(`member port ${tooHigh.port} on ${tooHigh.node} leaves no group communication or Galera ports below 65536`);
    },
  );
  d.fleet.event('cluster.create-started', req.name, `group of ${req.members} ${req.name} (group ${c.groupName}): ${rows.map((r) => `${r.name} on ${r.node}`).join(', ')}`);
  return { params: { cluster: req.name, memberIds: rows.map((r) => r.id) }, subjects: clusterSubjects(d, req.name), ifBusy: 'refuse' };
}

// Builds a consensus cluster: the first member, its recovery and monitoring accounts
// (binlogged, so every member has them), the group bootstrapped on it; then each other member
// from a CLONE of it, joined to the group (it recovers what it lacks since the clone from a
// donor's binlog). The group elects and opens its primary; berth never sets read-only on a
// member. Any failure undoes every container, then the reservations and the cluster's row.
export function clusterGroupCreateOperation(d: OperationDeps): OperationType<GroupCreateParams, CreateGroupInput> {
  const fleet = d.fleet;
  return {
    type: 'cluster-group-create',
    admit: (r, a) => admitGroup(d, r, a),
    release: { run: (ctx) => void fleet.change(() => ctx.params.memberIds.forEach((id) => fleet.releaseInstance(id))), independent: true },
    failed: (ctx, f) => {
      const name = ctx.params.cluster;
      if (f.clean && fleet.store.instances.inCluster(name).length === 0) {
        fleet.deleteCluster(name);
        fleet.event('cluster.create-failed', name, `create of group ${name} failed and was undone: ${f.error}`);
      } else if (fleet.store.clusters.get(name)) {
        fleet.setClusterState(name, 'failed', { message: `create failed and was not fully undone (left: ${f.left.join(', ')}); delete the cluster to clean up: ${f.error}` });
      }
    },
    steps: [
      { name: 'create-first', timeoutMs: 15 * 60_000, run: (ctx) => createFirst(d, ctx), undo: (ctx) => removeMembers(d, [ctx.params.memberIds[0]!]) },
      { name: 'bootstrap', retries: 2, backoffMs: 1000, run: (ctx) => bootstrap(d, ctx) },
      { name: 'join-members', timeoutMs: 6 * 3600_000, run: (ctx) => joinAll(d, ctx), undo: (ctx) => removeMembers(d, ctx.params.memberIds.slice(1)) },
      { name: 'running', run: (ctx) => running(d, ctx) },
    ],
  };
}

async function createFirst(d: OperationDeps, ctx: Ctx): Promise<{ containerId: string; flavor: string; version: string }> {
  const c = mustCluster(d, ctx.params.cluster);
  const p = memberRow(d, ctx.params.memberIds[0]!);
  await d.fleet.commit(() => d.fleet.updateInstance(p.id, { state: 'creating' }));
  const res = await d.agents.for(p.node).createInstance(createRequest(p, c, !!d.requireMysqlTls, groupConfigOf(d, c, p, { bootstrap: true })), d.agentCreateDeadlineMs);
  await d.fleet.commit(() => d.fleet.updateInstance(p.id, { state: 'creating', flavor: res.flavor, version: res.version, containerId: res.containerId }));
  d.fleet.setClusterState(c.name, 'creating', { flavor: res.flavor });
  return { containerId: res.containerId, flavor: res.flavor, version: res.version };
}

// The accounts before the group exists, so they are the group's first transactions and every
// member (cloned or recovering) has them. The recovery channel uses the replication account.
async function bootstrap(d: OperationDeps, ctx: Ctx): Promise<{ members: number }> {
  const c = mustCluster(d, ctx.params.cluster);
  if (isGaleraFlavor(c.flavor)) return galeraBootstrap(d, c.name, ctx.params.memberIds[0]!);
  const ep = endpointOf(d, memberRow(d, ctx.params.memberIds[0]!));
  await ep.agent.createReplicationUser({ id: ep.id, user: c.replUser, password: c.replPassword, binlog: true });
  await ep.agent.createReplicationUser({ id: ep.id, user: c.monitorUser || MONITOR_USER, password: c.monitorPassword, binlog: true, monitor: true });
  const g = await ep.agent.startGroupReplication({ id: ep.id, bootstrap: true, recoveryUser: c.replUser, recoveryPassword: c.replPassword }, 120_000);
  const self = g.members.find((m) => m.local);
  if (self?.state !== 'ONLINE') throw new Error(`the group did not start on ${ep.id}: it is ${self?.state ?? 'not listed'}`);
  return { members: g.members.length };
}

// One after another: a donor serves one CLONE at a time, and a group admits one joiner at a
// time in any case.
async function joinAll(d: OperationDeps, ctx: Ctx): Promise<Record<string, SeedOut>> {
  if (isGaleraFlavor(mustCluster(d, ctx.params.cluster).flavor)) return galeraJoinAll(d, ctx.params.cluster, ctx.params.memberIds.slice(1), (phase) => ctx.progress({ phase }));
  const out: Record<string, SeedOut> = {};
  for (const id of ctx.params.memberIds.slice(1)) out[id] = await joinMember(d, ctx, id);
  return out;
}

// A CLONE of the first member (the group's data and GTID set as of the clone), then START
// GROUP_REPLICATION: the member recovers the rest from a donor and comes ONLINE as a secondary.
// A failed join removes the copy, so a retry starts from nothing.
async function joinMember(d: OperationDeps, ctx: Ctx, id: string): Promise<SeedOut> {
  const c = mustCluster(d, ctx.params.cluster);
  const first = memberRow(d, ctx.params.memberIds[0]!);
  const r = memberRow(d, id);
  await d.fleet.commit(() => d.fleet.updateInstance(r.id, { state: 'creating' }));
  const src = endpointOf(d, first);
  const tgt = targetOf(d, r, c, first.flavor);
  const onDiscarded = discardRecorder(d, ctx, r.id, r.node, `a clone of ${first.name} that did not join the group`);
  const done = await copy(src, tgt, { signal: ctx.signal, createDeadlineMs: d.agentCreateDeadlineMs, onDiscarded, onProgress: (p) => ctx.progress({ phase: `${r.name}: ${p.phase}` }) });
  ctx.progress({ phase: `${r.name}: joining the group` });
  try {
    const g = await tgt.agent.startGroupReplication({ id: r.id, bootstrap: false, recoveryUser: c.replUser, recoveryPassword: c.replPassword }, 10 * 60_000);
    const self = g.members.find((m) => m.local);
    if (self?.state !== 'ONLINE') throw new Error(`${r.name} did not join the group: it is ${self?.state ?? 'not listed'}`);
  } catch (err) {
    const gone = await discardCopy({ ...tgt, diskPath: r.diskPath, node: r.node }, src, d.agentRemoveDeadlineMs).catch(() => undefined);
    if (gone) onDiscarded(gone);
    throw err;
  }
  const seen = await tgt.agent.inspectInstance({ id: r.id });
  await d.fleet.commit(() => d.fleet.updateInstance(r.id, { state: 'creating', flavor: seen.flavor, version: seen.version, containerId: seen.containerId }));
  return { method: done.method, bytes: done.bytes, seconds: done.seconds, bytesPerSecond: done.bytesPerSecond };
}

// A Galera cluster's first member is made its writer (the others stay read-only); a group of
// MySQL opens the primary it elected by itself.
async function running(d: OperationDeps, ctx: Ctx): Promise<void> {
  if (isGaleraFlavor(mustCluster(d, ctx.params.cluster).flavor)) await openWriter(d, ctx.params.cluster, ctx.params.memberIds[0]!);
  await markRunning(d, ctx.params.memberIds);
  d.fleet.setClusterState(ctx.params.cluster, 'running', { message: '' });
  d.fleet.event('cluster.created', ctx.params.cluster, `group ${ctx.params.cluster} running: ${ctx.params.memberIds.length} members, primary ${memberRow(d, ctx.params.memberIds[0]!).name}`);
}
