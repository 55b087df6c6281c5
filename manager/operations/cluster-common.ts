import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import { copy, discardCopy, makeReplica, type MovementProgress } from '../movement/index';
import { endpointOf, memberRow, mustCluster, primaryOf, targetOf } from '../clusters/members';
import { clusterGroup, memberName } from '../clusters/types';
import type { ClusterRow } from '../store/clusters';
import type { InstanceRow } from '../store/instances';
import { discardRecorder, type OperationDeps } from './deps';
import { removeContainer } from './create';
import { newId } from './placement';
import type { StepContext, Subject } from './types';

// What the cluster operations share: their admissions' checks and subjects, and steps (create,
// add-replica, delete, remove-replica, rebuild).

export function findCluster(d: OperationDeps, name: string): ClusterRow {
  const c = d.fleet.store.clusters.get(name);
  if (!c) throw notFound(`no cluster ${name}`);
  return c;
}

export function mustBeRunning(c: ClusterRow): void {
  if (c.state !== 'running') throw failedPrecondition(`cluster ${c.name} is ${c.state}: only a running cluster can be changed`);
}

// The cluster and every member (or every unfenced one), so nothing else touches any of them
// meanwhile. Failovers and switchovers leave fenced members out: a rebuild may hold them.
export function clusterSubjects(d: OperationDeps, name: string, o: { unfencedOnly?: boolean } = {}): Subject[] {
  const ms = d.fleet.store.instances.inCluster(name).filter((m) => !o.unfencedOnly || !m.fenced);
  return [{ kind: 'cluster', name }, ...ms.map((m) => ({ kind: 'instance' as const, name: m.id }))];
}

// A member of this cluster by instance id or name.
export function memberOf(d: OperationDeps, c: ClusterRow, ref: string): InstanceRow {
  if (!ref) throw invalidArgument('instance (an id or a name) is required');
  const i = d.fleet.store.instances.find(ref);
  if (!i) throw notFound(`no instance ${ref}`);
  if (i.clusterName !== c.name) throw invalidArgument(`${i.name} is not a member of cluster ${c.name}`);
  return i;
}

// Placed like its cluster's members: its anti-affinity group, the cluster's constraints and
// spread. The admin password is the cluster's (a copy carries the primary's accounts).
export function reserveMember(d: OperationDeps, c: ClusterRow, p: { node: string; diskPath: string; port: number }, role: 'primary' | 'replica', adminPassword: string): InstanceRow {
  return d.fleet.reserveInstance({
    id: newId('i'),
    name: memberName(c.name, (n) => !!d.fleet.store.instances.find(n)),
    serverId: d.fleet.store.instances.nextServerId(),
    node: p.node,
    diskPath: p.diskPath,
    port: p.port,
    cpuMillis: c.cpuMillis,
    memoryBytes: c.memoryBytes,
    diskBytes: c.diskBytes,
    image: c.image,
    state: 'pending',
    adminUser: d.adminUser ?? 'admin',
    adminPassword,
    antiAffinityGroup: clusterGroup(c.name),
    clusterName: c.name,
    clusterRole: role,
  });
}

export interface SeedOut {
  method: string;
  bytes: number;
  seconds: number;
  bytesPerSecond: number;
}

const phaseOf = (name: string, p: MovementProgress) => `${name}: ${p.phase}${p.lagTransactions !== undefined ? ` (lag ${p.lagTransactions} transactions)` : ''}`;

// A new member from a hot copy of the primary (mariabackup stream or CLONE), then replicating
// from it by GTID with the cluster's replication account. A failed copy or replica set-up is
// removed, so a retry starts from nothing: deleted when the primary has all it holds, else kept
// in the trash and recorded (berthctl instance discarded).
export async function seedReplica(d: OperationDeps, ctx: Pick<StepContext, 'opId' | 'signal' | 'progress'>, clusterName: string, replicaId: string): Promise<SeedOut> {
  const c = mustCluster(d, clusterName);
  const primary = primaryOf(d, clusterName);
  const r = memberRow(d, replicaId);
  await d.fleet.commit(() => d.fleet.updateInstance(r.id, { state: 'creating' }));
  const src = endpointOf(d, primary);
  const tgt = targetOf(d, r, c, primary.flavor);
  const onProgress = (p: MovementProgress) => ctx.progress({ phase: phaseOf(r.name, p), ...(p.bytesTotal ? { bytesDone: p.bytesDone ?? 0, bytesTotal: p.bytesTotal } : {}) });
  const onDiscarded = discardRecorder(d, ctx, r.id, r.node, `a copy of the primary ${primary.name} that failed`);
  const done = await copy(src, tgt, { onProgress, signal: ctx.signal, createDeadlineMs: d.agentCreateDeadlineMs, onDiscarded });
  try {
    await makeReplica(tgt, src, done, { onProgress, signal: ctx.signal, account: { user: c.replUser, password: c.replPassword } });
  } catch (err) {
    const gone = await discardCopy({ ...tgt, diskPath: r.diskPath, node: r.node }, src, d.agentRemoveDeadlineMs).catch(() => undefined);
    if (gone) onDiscarded(gone);
    throw err;
  }
  const seen = await tgt.agent.inspectInstance({ id: r.id });
  await d.fleet.commit(() => d.fleet.updateInstance(r.id, { state: 'creating', flavor: seen.flavor, version: seen.version, containerId: seen.containerId }));
  return { method: done.method, bytes: done.bytes, seconds: done.seconds, bytesPerSecond: done.bytesPerSecond };
}

// Every container of these members goes (the undo of a build, or a delete); all are tried, and
// the error names those whose agent did not answer.
export async function removeMembers(d: OperationDeps, ids: string[]): Promise<void> {
  const results = await Promise.allSettled(ids.map((id) => removeContainer(d, id)));
  const failed = ids.filter((_, k) => results[k]!.status === 'rejected');
  if (failed.length) throw new Error(`could not remove the containers of ${failed.join(', ')}: ${(results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason}`);
}

export function markRunning(d: OperationDeps, ids: string[]): Promise<void> {
  return d.fleet.commit(() => {
    for (const id of ids) if (d.fleet.store.instances.get(id)) d.fleet.updateInstance(id, { state: 'running', message: '' });
  });
}

export { endpointOf };
