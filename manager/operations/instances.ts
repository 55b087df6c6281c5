import { randomBytes } from 'node:crypto';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, resourceExhausted } from '../../src/errors';
import { dataKept } from './create';
import type { RequestKey } from './request-scope';
import type { Shape } from '../../src/validate';
import type { AgentPool } from '../agents/pool';
import { explain, plan } from '../scheduler/schedule';
import type { Snapshot } from '../scheduler/snapshot';
import { findStrategy } from '../scheduler/strategies/index';
import type { Constraint, PlacementRequest, SchedulerConfig, Strategy } from '../scheduler/types';
import { FleetState } from '../state/fleet';
import { heartbeatFresh } from '../scheduler/liveness';
import type { Store } from '../store/index';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import type { Engine } from './engine';
import { newOperationId } from './engine';
import { registerOperationTypes } from './index';

export interface InstanceOpsConfig {
  defaultImage: string;
  adminUser: string;
  scheduler: SchedulerConfig;
  // The agent initializes a data directory and waits for mysqld: minutes on a slow disk.
  agentCreateDeadlineMs: number;
  // Instances must be reached over TLS (--mysql-require-tls).
  requireMysqlTls?: boolean;
  // Told how long each placement decision took (the scheduler latency metric).
  onSchedule?: (seconds: number, ok: boolean) => void;
}

export interface PlacementOptions {
  node?: string;
  constraints?: Constraint[];
  // Anti-affinity group: instances of one group never share a host.
  antiAffinityGroup?: string;
  spreadOver?: { key: string; soft: boolean };
  // A strategy name; the API edge has checked it exists.
  strategy?: string;
}

export interface CreateRequest extends PlacementOptions {
  name: string;
  shape: Shape;
  image?: string;
  // The client's idempotency key, recorded with the reservation (api/requests.ts).
  request?: RequestKey;
}

// Random bytes drawn from the CSPRNG 4K at a time: one getrandom() per create showed up in the
// scheduler benchmark's profile.
let pool = Buffer.alloc(0);
let poolAt = 0;
function random(n: number): Buffer {
  if (poolAt + n > pool.length) {
    pool = randomBytes(4096);
    poolAt = 0;
  }
  const out = Buffer.from(pool.subarray(poolAt, poolAt + n));
  pool.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return out;
}
const newId = (prefix: string) => `${prefix}-${random(6).toString('hex')}`;
// 24 characters from a 144-bit random value; base64url has no quoting hazards in shells or URLs.
const newPassword = () => random(18).toString('base64url');

// Create and delete: the API edge calls these after validating input; each returns at once with
// an operation that the engine carries out step by step (manager/operations/create.ts,
// delete.ts).
export class InstanceOps {
  private readonly fleet: FleetState;

  constructor(
    store: Store,
    private readonly snapshot: Snapshot,
    private readonly engine: Engine,
    agents: Pick<AgentPool, 'for'>,
    private readonly cfg: InstanceOpsConfig,
  ) {
    this.fleet = FleetState.of(store, snapshot);
    registerOperationTypes(engine, { fleet: this.fleet, agents, agentCreateDeadlineMs: cfg.agentCreateDeadlineMs, scheduler: cfg.scheduler, requireMysqlTls: cfg.requireMysqlTls });
  }

  async create(req: CreateRequest): Promise<{ instance: InstanceRow; operation: OperationRow }> {
    const { instance, opId, operation } = await this.reserve(req);
    // The row as recorded; the engine starts changing its copy only after a later commit.
    this.engine.start(opId, operation);
    return { instance, operation };
  }

  // Choice and reservation in one synchronous step: nothing else runs between the scheduler
  // reading the snapshot and the row that claims the resources being written, so two concurrent
  // creates can never both take the last gigabyte. Group-committed: a burst of creates is decided
  // one after another (each on the snapshot with the ones before it applied) and made durable
  // with one fsync; each caller is answered once its reservation is durable. The operation that
  // builds the instance is recorded (its reserve step done) but not started.
  reserve(req: CreateRequest): Promise<{ instance: InstanceRow; opId: string; operation: OperationRow }> {
    const { placementReq, strategy } = this.placementRequest(req.shape, req);
    const id = newId('i');
    return this.fleet.commit(() => {
      if (this.fleet.store.instances.find(req.name)) throw alreadyExists(`an instance named ${req.name} already exists`);
      if (req.request && this.fleet.store.requests.get(req.request.caller, req.request.id)) throw alreadyExists(`request_id ${req.request.id} is already taken`);
      const t0 = process.hrtime.bigint();
      const r = this.snapshot.schedule(placementReq, { now: Date.now(), config: this.cfg.scheduler }, { strategy });
      this.cfg.onSchedule?.(Number(process.hrtime.bigint() - t0) / 1e9, r.ok);
      if (!r.ok) throw resourceExhausted(explain(r));
      const instance = this.fleet.reserveInstance({
        id,
        name: req.name,
        serverId: this.fleet.store.instances.nextServerId(),
        ...pick(r.placement),
        ...req.shape,
        image: req.image || this.cfg.defaultImage,
        state: 'pending',
        adminUser: this.cfg.adminUser,
        adminPassword: newPassword(),
        antiAffinityGroup: req.antiAffinityGroup ?? '',
      });
      // A new instance: no other operation can hold it yet, so nothing to wait for or refuse.
      const opId = newOperationId();
      const operation = this.fleet.store.operations.insert({ id: opId, type: 'create', params: { instanceId: id }, subjects: [{ kind: 'instance', name: id }], steps: this.engine.stepNames('create'), firstPending: 1 });
      this.remember(req.request, id, opId);
      const soft = r.relaxedSoft ? ', preferences dropped: no node met them' : '';
      this.fleet.event('create.started', id, `${req.name} placed on ${instance.node} port ${instance.port} (${instance.diskPath})${soft}`);
      return { instance, opId, operation };
    });
  }

  // A create that failed after mysqld had started kept the instance's data and reservation
  // (create.ts keepData): asked for again, it runs again on them, from its container step.
  retryOnKeptData(i: InstanceRow, request?: RequestKey): { instance: InstanceRow; operation: OperationRow } {
    const opId = newOperationId();
    this.fleet.change(() => {
      const now = this.fleet.store.instances.get(i.id);
      if (!now || !dataKept(now)) throw failedPrecondition(`instance ${i.name} is ${now?.state ?? 'gone'}: nothing to retry`);
      this.engine.record({ id: opId, type: 'create', params: { instanceId: i.id }, subjects: [{ kind: 'instance', name: i.id }], ifBusy: 'refuse', firstPending: 1 });
      this.fleet.updateInstance(i.id, { state: 'pending', message: '' });
      this.remember(request, i.id, opId);
      this.fleet.event('create.retried', i.id, `create of ${i.name} retried on its kept data`);
    });
    this.engine.start(opId);
    return { instance: this.fleet.store.instances.get(i.id)!, operation: this.fleet.store.operations.get(opId)! };
  }

  // The dry run, on the same snapshot and code path as a create; writes nothing.
  plan(shape: Shape, opts: PlacementOptions) {
    const { placementReq, strategy } = this.placementRequest(shape, opts);
    return { ...plan(this.snapshot.nodes(), placementReq, { now: Date.now(), config: this.cfg.scheduler }, { strategy }), strategy: strategy.name };
  }

  private placementRequest(shape: Shape, o: PlacementOptions): { placementReq: PlacementRequest; strategy: Strategy } {
    if (o.node && !this.snapshot.get(o.node)) throw invalidArgument(`node ${o.node} is not registered (berthctl node list shows the nodes)`);
    if (o.spreadOver && !o.antiAffinityGroup) throw invalidArgument('spread_over needs a cluster (now anti_affinity_group): it spreads the members of one anti-affinity group');
    const name = o.strategy || this.cfg.scheduler.strategy;
    const strategy = findStrategy(name);
    if (!strategy) throw invalidArgument(`unknown strategy "${name.slice(0, 40)}": use spread, binpack or weighted`);
    const placementReq: PlacementRequest = { ...shape, node: o.node, constraints: o.constraints?.length ? o.constraints : undefined, antiAffinityGroup: o.antiAffinityGroup || undefined, spreadOver: o.spreadOver };
    return { placementReq, strategy };
  }

  // Waits behind an operation already on a running instance (it is queued, in order); refuses,
  // naming the holder, when the instance is still being built or torn down.
  // force: the node is gone for good; the instance is forgotten without calling it.
  delete(idOrName: string, force = false): OperationRow {
    const i = this.fleet.store.instances.find(idOrName);
    if (!i) throw notFound(`no instance ${idOrName}`);
    if (force) this.mustBeDown(i.node, `force-delete ${i.name}`);
    if (i.clusterName) throw failedPrecondition(`${i.name} is a member of cluster ${i.clusterName}: berthctl cluster remove-replica (or cluster delete) removes it`);
    const opId = newOperationId();
    this.fleet.change(() => {
      this.engine.record({ id: opId, type: 'delete', params: { instanceId: i.id, ...(force ? { force } : {}) }, subjects: [{ kind: 'instance', name: i.id }], ifBusy: i.state === 'running' && !force ? 'wait' : 'refuse' });
      this.fleet.event('delete.started', i.id, `${force ? 'force-delete' : 'delete'} ${i.name} on ${i.node}`);
    });
    this.engine.start(opId);
    return this.fleet.store.operations.get(opId)!;
  }

  // Forgets a node (and, with force, every instance on it without calling the node) in one
  // change. Refused while its agent heartbeats: it would only register again.
  removeNode(name: string, force: boolean): string[] {
    this.mustBeDown(name, `remove node ${name}`);
    return this.fleet.change(() => {
      const placed = this.fleet.store.instances.onNode(name);
      if (placed.length && !force) throw failedPrecondition(`node ${name} still has ${placed.length} instances (${placed.slice(0, 5).map((i) => i.name).join(', ')}${placed.length > 5 ? ', …' : ''}): delete them, or remove it with force to forget them`);
      const busy = placed.find((i) => this.engine.busy(i.id));
      if (busy) throw failedPrecondition(`instance ${busy.name} on node ${name} is held by an operation (berthctl operation list): wait for it or fix it first`);
      for (const i of placed) {
        this.fleet.releaseInstance(i.id);
        this.fleet.event('instance.force_deleted', i.id, `${i.name} forgotten with node ${name}; its container and files may remain at ${i.diskPath}/berth/${i.id} (port ${i.port})`);
      }
      this.fleet.removeNode(name);
      return placed.map((i) => i.name);
    });
  }

  // In the transaction of what the request did: after a crash, both or neither.
  private remember(request: RequestKey | undefined, instanceId: string, operationId: string): void {
    if (request) this.fleet.store.requests.insert({ ...request, instanceId, operationId });
  }

  private mustBeDown(node: string, what: string): void {
    const n = this.snapshot.get(node);
    if (n && heartbeatFresh(n.lastHeartbeatMs, Date.now(), this.cfg.scheduler)) {
      throw failedPrecondition(`cannot ${what}: node ${node} is up (its agent heartbeats); stop its agent for good first, or use a normal delete`);
    }
  }
}

const pick = (p: { node: string; diskPath: string; port: number }) => ({ node: p.node, diskPath: p.diskPath, port: p.port });
