import { randomBytes } from 'node:crypto';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, resourceExhausted } from '../../src/errors';
import type { Shape } from '../../src/validate';
import type { Engine } from './engine';
import { newOperationId } from './engine';
import { findStrategy } from '../scheduler/strategies/index';
import type { Constraint, SchedulerConfig } from '../scheduler/types';
import type { FleetState } from '../state/fleet';
import type { ClusterRow, ReplicationMode } from '../store/clusters';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import type { Subject } from './types';
import { placeMembers } from '../clusters/placement';
import { parseConstraints, parseSpreadOver } from '../scheduler/constraints';
import { clusterGroup, MAX_REPLICAS, memberName, MONITOR_USER, REPL_USER } from '../clusters/types';

export interface ClusterOpsDeps {
  fleet: FleetState;
  engine: Engine;
  scheduler: SchedulerConfig;
  defaultImage: string;
  adminUser: string;
}

// Validated at the API edge (manager/api/clusters.ts).
export interface CreateClusterInput {
  name: string;
  shape: Shape;
  replicas: number;
  replication: ReplicationMode;
  semiSyncTimeoutMs: number;
  image?: string;
  constraints: Constraint[];
  spreadOver?: { key: string; soft: boolean };
  strategy?: string;
}

const secret = () => randomBytes(18).toString('base64url');

// Cluster changes as the API asks for them: decide and reserve in one fleet change with the
// operation's record, then start it. The operation types do the work
// (operations/cluster-*.ts).
export class ClusterOps {
  constructor(private readonly d: ClusterOpsDeps) {}

  private get store() {
    return this.d.fleet.store;
  }

  find(name: string): ClusterRow {
    const c = this.store.clusters.get(name);
    if (!c) throw notFound(`no cluster ${name}`);
    return c;
  }

  members(name: string): InstanceRow[] {
    return this.store.instances.inCluster(name);
  }

  // The cluster and every member, so nothing else touches any of them meanwhile.
  subjects(name: string, extra: string[] = []): Subject[] {
    return [{ kind: 'cluster', name }, ...[...this.members(name).map((m) => m.id), ...extra].map((id) => ({ kind: 'instance' as const, name: id }))];
  }

  create(req: CreateClusterInput): { cluster: ClusterRow; members: InstanceRow[]; operation: OperationRow } {
    const opId = newOperationId();
    const strategy = this.strategy(req.strategy);
    const members = this.d.fleet.change(() => {
      if (this.store.clusters.get(req.name)) throw alreadyExists(`a cluster named ${req.name} already exists`);
      const placed = placeMembers(this.d.fleet.snapshot.nodes(), { ...req.shape, constraints: req.constraints.length ? req.constraints : undefined, antiAffinityGroup: clusterGroup(req.name), spreadOver: req.spreadOver }, 1 + req.replicas, { now: Date.now(), config: this.d.scheduler }, strategy);
      if (!placed.ok) throw resourceExhausted(`cluster ${req.name} needs ${1 + req.replicas} distinct hosts: ${placed.message}`);
      this.d.fleet.createCluster({
        name: req.name,
        state: 'creating',
        replication: req.replication,
        semiSyncTimeoutMs: req.replication === 'semi-sync' ? req.semiSyncTimeoutMs : 0,
        flavor: '',
        image: req.image || this.d.defaultImage,
        ...req.shape,
        placement: { constraints: req.constraints.map((c) => c.text), spreadOver: req.spreadOver ? `${req.spreadOver.soft ? '~' : ''}${req.spreadOver.key}` : '', strategy: req.strategy ?? '' },
        replUser: REPL_USER,
        replPassword: secret(),
        monitorUser: MONITOR_USER,
        monitorPassword: secret(),
      });
      const adminPassword = secret();
      const rows = placed.placements.map((p, k) => this.reserveMember(req.name, p, k === 0 ? 'primary' : 'replica', adminPassword));
      const [primary, ...replicas] = rows;
      const params = { cluster: req.name, primaryId: primary!.id, replicaIds: replicas.map((r) => r.id) };
      this.d.engine.record({ id: opId, type: 'cluster-create', params, subjects: this.subjects(req.name), ifBusy: 'refuse', firstPending: 1 });
      const where = rows.map((r) => `${r.name} on ${r.node}`).join(', ');
      this.d.fleet.event('cluster.create-started', req.name, `${req.replication} cluster ${req.name}: ${where}${placed.relaxedSoft ? ' (preferences dropped: no node met them)' : ''}`);
      return rows;
    });
    this.d.engine.start(opId);
    return { cluster: this.find(req.name), members, operation: this.store.operations.get(opId)! };
  }

  // Placed like the members before it (the cluster's constraints and spread, a host without a
  // member), reserved with the operation's record; seeded from a copy of the primary.
  addReplica(name: string, node?: string): OperationRow {
    const opId = newOperationId();
    this.d.fleet.change(() => {
      const c = this.find(name);
      this.running(c);
      const members = this.members(name);
      if (members.length >= 1 + MAX_REPLICAS) throw failedPrecondition(`cluster ${name} has ${members.length - 1} replicas already, the most it may have`);
      if (node && !this.d.fleet.snapshot.get(node)) throw invalidArgument(`node ${node} is not registered (berthctl node list shows the nodes)`);
      const req = { cpuMillis: c.cpuMillis, memoryBytes: c.memoryBytes, diskBytes: c.diskBytes, node, constraints: parseConstraints(c.placement.constraints), spreadOver: parseSpreadOver(c.placement.spreadOver), antiAffinityGroup: clusterGroup(name) };
      const placed = placeMembers(this.d.fleet.snapshot.nodes(), { ...req, constraints: req.constraints.length ? req.constraints : undefined }, 1, { now: Date.now(), config: this.d.scheduler }, this.strategy(c.placement.strategy));
      if (!placed.ok) throw resourceExhausted(`no host can take another replica of ${name}: ${placed.message}`);
      const r = this.reserveMember(name, placed.placements[0]!, 'replica', members[0]!.adminPassword);
      this.d.engine.record({ id: opId, type: 'cluster-add-replica', params: { cluster: name, replicaId: r.id }, subjects: this.subjects(name), ifBusy: 'refuse', firstPending: 1 });
      this.d.fleet.event('cluster-add-replica.started', name, `new replica ${r.name} on ${r.node} port ${r.port}, seeded from a copy of the primary`);
    });
    this.d.engine.start(opId);
    return this.store.operations.get(opId)!;
  }

  removeReplica(name: string, ref: string): OperationRow {
    const c = this.find(name);
    const i = this.member(c, ref);
    if (i.clusterRole === 'primary') throw failedPrecondition(`${i.name} is the primary of ${name}: switch over first`);
    const replicas = this.members(name).filter((m) => m.clusterRole === 'replica' && !m.fenced);
    if (c.replication === 'semi-sync' && replicas.length === 1 && replicas[0]!.id === i.id) {
      throw failedPrecondition(`${i.name} is the last replica of semi-sync cluster ${name}: the primary would have nobody to acknowledge its writes`);
    }
    return this.submit('cluster-remove-replica', name, { cluster: name, replicaId: i.id }, 'refuse');
  }

  switchover(name: string, to?: string): OperationRow {
    const c = this.find(name);
    this.running(c);
    let target: string | undefined;
    if (to) {
      const i = this.member(c, to);
      if (i.clusterRole === 'primary') throw failedPrecondition(`${i.name} is the primary of ${name} already`);
      if (i.fenced) throw failedPrecondition(`${i.name} is fenced: it is never made a primary until rebuilt`);
      target = i.id;
    } else if (!this.members(name).some((m) => m.clusterRole === 'replica' && !m.fenced)) {
      throw failedPrecondition(`cluster ${name} has no replica to switch over to`);
    }
    return this.submit('cluster-switchover', name, { cluster: name, ...(target ? { to: target } : {}) }, 'refuse');
  }

  // A member of this cluster by instance id or name.
  private member(c: ClusterRow, ref: string): InstanceRow {
    if (!ref) throw invalidArgument('instance (an id or a name) is required');
    const i = this.store.instances.find(ref);
    if (!i) throw notFound(`no instance ${ref}`);
    if (i.clusterName !== c.name) throw invalidArgument(`${i.name} is not a member of cluster ${c.name}`);
    return i;
  }

  delete(name: string): OperationRow {
    this.find(name);
    return this.submit('cluster-delete', name, { cluster: name }, 'wait');
  }

  private submit(type: string, name: string, params: Record<string, unknown>, ifBusy: 'wait' | 'refuse', extra: string[] = [], before?: () => void): OperationRow {
    const opId = newOperationId();
    this.d.fleet.change(() => {
      before?.();
      this.d.engine.record({ id: opId, type, params, subjects: this.subjects(name, extra), ifBusy });
      this.d.fleet.event(`${type}.started`, name, `${type} of cluster ${name}${Object.keys(params).length > 1 ? ` ${JSON.stringify(params)}` : ''}`);
    });
    this.d.engine.start(opId);
    return this.store.operations.get(opId)!;
  }

  // Placed like its cluster's members: its anti-affinity group, the cluster's constraints and
  // spread. The admin password is the cluster's (a copy carries the primary's accounts).
  private reserveMember(cluster: string, p: { node: string; diskPath: string; port: number }, role: 'primary' | 'replica', adminPassword: string): InstanceRow {
    const c = this.find(cluster);
    return this.d.fleet.reserveInstance({
      id: `i-${randomBytes(6).toString('hex')}`,
      name: memberName(cluster, (n) => !!this.store.instances.find(n)),
      serverId: this.store.instances.nextServerId(),
      node: p.node,
      diskPath: p.diskPath,
      port: p.port,
      cpuMillis: c.cpuMillis,
      memoryBytes: c.memoryBytes,
      diskBytes: c.diskBytes,
      image: c.image,
      state: 'pending',
      adminUser: this.d.adminUser,
      adminPassword,
      antiAffinityGroup: clusterGroup(cluster),
      clusterName: cluster,
      clusterRole: role,
    });
  }

  private strategy(name?: string) {
    const n = name || this.d.scheduler.strategy;
    const s = findStrategy(n);
    if (!s) throw invalidArgument(`unknown strategy "${n.slice(0, 40)}": use spread, binpack or weighted`);
    return s;
  }

  protected running(c: ClusterRow): void {
    if (c.state !== 'running') throw failedPrecondition(`cluster ${c.name} is ${c.state}: only a running cluster can be changed`);
  }
}
