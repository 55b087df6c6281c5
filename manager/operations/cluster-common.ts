import { randomBytes } from 'node:crypto';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, resourceExhausted } from '../../src/errors';
import type { Shape } from '../../src/validate';
import { placeMembers, type MembersPlacement } from '../clusters/placement';
import { copy, discardCopy, makeReplica, type MovementProgress } from '../movement/index';
import { endpointOf, memberRow, mustCluster, primaryOf, targetOf } from '../clusters/members';
import { clusterGroup, memberName, MONITOR_USER, REPL_USER } from '../clusters/types';
import type { Constraint } from '../scheduler/types';
import type { ClusterRow, NewCluster } from '../store/clusters';
import type { InstanceRow } from '../store/instances';
import { discardRecorder, type OperationDeps } from './deps';
import { removeContainer } from './create';
import { newId, strategyNamed } from './placement';
import type { AdmitContext } from './types';
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
// What every kind of cluster asks for at creation (validated at the API edge).
export interface NewClusterRequest {
  name: string;
  shape: Shape;
  image?: string;
  constraints: Constraint[];
  spreadOver?: { key: string; soft: boolean };
  strategy?: string;
}

export const secret = () => randomBytes(18).toString('base64url');

// A new cluster's admission, whatever its kind: every member placed at once on distinct hosts
// (manager/clusters/placement.ts), the cluster's row with fresh account passwords, and each
// member reserved, in the transaction that records the operation. `check` may refuse the
// placements before anything is written; `kind` holds the cluster's own columns.
export function admitClusterMembers(
  d: OperationDeps,
  req: NewClusterRequest,
  count: number,
  a: AdmitContext,
  kind: Pick<NewCluster, 'replication' | 'semiSyncTimeoutMs'> & Partial<Pick<NewCluster, 'groupName' | 'groupConsistency' | 'memberWeight'>>,
  check?: (placed: Extract<MembersPlacement, { ok: true }>) => void,
): { cluster: ClusterRow; rows: InstanceRow[]; relaxedSoft: boolean } {
  const strategy = strategyNamed(d, req.strategy);
  if (d.fleet.store.clusters.get(req.name)) throw alreadyExists(`a cluster named ${req.name} already exists`);
  const want = { ...req.shape, constraints: req.constraints.length ? req.constraints : undefined, antiAffinityGroup: clusterGroup(req.name), spreadOver: req.spreadOver };
  const placed = placeMembers(d.fleet.snapshot.nodes(), want, count, { now: a.now, config: d.scheduler }, strategy);
  if (!placed.ok) throw resourceExhausted(`cluster ${req.name} needs ${count} distinct hosts: ${placed.message}`);
  check?.(placed);
  const c = d.fleet.createCluster({
    name: req.name,
    state: 'creating',
    flavor: '',
    image: req.image || d.defaultImage || '',
    ...req.shape,
    placement: { constraints: req.constraints.map((x) => x.text), spreadOver: req.spreadOver ? `${req.spreadOver.soft ? '~' : ''}${req.spreadOver.key}` : '', strategy: req.strategy ?? '' },
    replUser: REPL_USER,
    replPassword: secret(),
    monitorUser: MONITOR_USER,
    monitorPassword: secret(),
    ...kind,
  });
  const adminPassword = secret();
  const rows = placed.placements.map((p, k) => reserveMember(d, c, p, k === 0 ? 'primary' : 'replica', adminPassword));
  return { cluster: c, rows, relaxedSoft: !!placed.relaxedSoft };
}

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
