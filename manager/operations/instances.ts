import { randomBytes } from 'node:crypto';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, resourceExhausted } from '../../src/errors';
import type { Shape } from '../../src/validate';
import type { AgentPool } from '../agents/pool';
import { explain, plan } from '../scheduler/schedule';
import type { Snapshot } from '../scheduler/snapshot';
import { findStrategy } from '../scheduler/strategies/index';
import type { Constraint, PlacementRequest, SchedulerConfig, Strategy } from '../scheduler/types';
import type { Store } from '../store/index';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import type { Engine } from './engine';

export interface InstanceOpsConfig {
  defaultImage: string;
  adminUser: string;
  scheduler: SchedulerConfig;
  // The agent initializes a data directory and waits for mysqld: minutes on a slow disk.
  agentCreateDeadlineMs: number;
  // Told how long each placement decision took (the scheduler latency metric).
  onSchedule?: (seconds: number, ok: boolean) => void;
}

export interface PlacementOptions {
  node?: string;
  constraints?: Constraint[];
  cluster?: string;
  spreadOver?: { key: string; soft: boolean };
  // A strategy name; the API edge has checked it exists.
  strategy?: string;
}

export interface CreateRequest extends PlacementOptions {
  name: string;
  shape: Shape;
  image?: string;
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
// an operation that the engine carries out step by step.
export class InstanceOps {
  constructor(
    private readonly store: Store,
    private readonly snapshot: Snapshot,
    private readonly engine: Engine,
    private readonly agents: AgentPool,
    private readonly cfg: InstanceOpsConfig,
  ) {
    const s = store;
    engine.register({
      type: 'create',
      // The row is gone when the undos worked. When they did not (the node went silent, say),
      // the reservation stays and the instance says what is left to clean: delete retries it.
      failed: (id, error, clean) => {
        if (!clean && s.instances.get(id)) s.instances.update(id, { state: 'failed', message: `create failed and was not fully undone: ${error}` });
      },
      steps: [
        {
          name: 'reserve',
          run: async () => {}, // done in the transaction that recorded the operation
          undo: async (id) => this.release(id),
        },
        {
          name: 'create-container',
          run: async (id) => {
            const i = this.must(id);
            s.instances.update(id, { state: 'creating' });
            const res = await this.agents.for(i.node).createInstance(
              {
                id: i.id,
                name: i.name,
                image: i.image,
                resources: { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes },
                port: i.port,
                diskPath: i.diskPath,
                serverId: i.serverId,
                adminUser: i.adminUser,
                adminPassword: i.adminPassword,
              },
              this.cfg.agentCreateDeadlineMs,
            );
            s.instances.update(id, { state: 'creating', flavor: res.flavor, version: res.version, containerId: res.containerId });
          },
          // Whatever the agent made (directories, an init container, a half-started mysqld) goes.
          undo: async (id) => {
            const i = s.instances.get(id);
            if (i) await this.agents.for(i.node).removeInstance({ id }, 120_000);
          },
        },
        {
          name: 'verify-running',
          run: async (id) => {
            const i = this.must(id);
            const res = await this.agents.for(i.node).inspectInstance({ id });
            if (res.state !== 'running') throw new Error(`container is ${res.state}, not running`);
            s.instances.update(id, { state: 'running', message: '' });
          },
        },
      ],
    });
    engine.register({
      type: 'delete',
      failed: (id, error) => {
        if (s.instances.get(id)) s.instances.update(id, { state: 'failed', message: `delete failed, run it again: ${error}` });
      },
      steps: [
        { name: 'mark-deleting', run: async (id) => (s.instances.get(id) ? s.instances.update(id, { state: 'deleting' }) : undefined) },
        {
          name: 'remove-container',
          run: async (id) => {
            const i = s.instances.get(id);
            if (i) await this.agents.for(i.node).removeInstance({ id }, 120_000);
          },
        },
        { name: 'release', run: async (id) => this.release(id) },
      ],
    });
  }

  create(req: CreateRequest): { instance: InstanceRow; operation: OperationRow } {
    const { instance, opId } = this.reserve(req);
    this.engine.start(opId);
    return { instance, operation: this.store.operations.get(opId)! };
  }

  // Choice and reservation in one synchronous store transaction: nothing else runs between the
  // scheduler reading the snapshot and the row that claims the resources being written, so two
  // concurrent creates can never both take the last gigabyte. The operation that builds the
  // instance is recorded but not started.
  reserve(req: CreateRequest): { instance: InstanceRow; opId: string } {
    const { placementReq, strategy } = this.placementRequest(req.shape, req);
    const id = newId('i');
    const opId = newId('op');
    const instance = this.store.tx(() => {
      if (this.store.instances.find(req.name)) throw alreadyExists(`an instance named ${req.name} already exists`);
      const t0 = process.hrtime.bigint();
      const r = this.snapshot.schedule(placementReq, { now: Date.now(), config: this.cfg.scheduler }, { strategy });
      this.cfg.onSchedule?.(Number(process.hrtime.bigint() - t0) / 1e9, r.ok);
      if (!r.ok) throw resourceExhausted(explain(r));
      const row = this.store.instances.insert({
        id,
        name: req.name,
        serverId: this.store.instances.nextServerId(),
        node: r.placement.node,
        diskPath: r.placement.diskPath,
        port: r.placement.port,
        cpuMillis: req.shape.cpuMillis,
        memoryBytes: req.shape.memoryBytes,
        diskBytes: req.shape.diskBytes,
        image: req.image || this.cfg.defaultImage,
        state: 'pending',
        adminUser: this.cfg.adminUser,
        adminPassword: newPassword(),
        cluster: req.cluster ?? '',
      });
      this.store.operations.insert(opId, 'create', id, this.engine.stepNames('create'), 1);
      const soft = r.relaxedSoft ? ', preferences dropped: no node met them' : '';
      this.store.events.add('create.started', id, `${req.name} placed on ${row.node} port ${row.port} (${row.diskPath})${soft}`);
      return row;
    });
    // Only after the commit: the snapshot never holds what the store might still roll back.
    this.snapshot.addInstance(instance);
    return { instance, opId };
  }

  // The dry run, on the same snapshot and code path as a create; writes nothing.
  plan(shape: Shape, opts: PlacementOptions) {
    const { placementReq, strategy } = this.placementRequest(shape, opts);
    return { ...plan(this.snapshot.nodes(), placementReq, { now: Date.now(), config: this.cfg.scheduler }, { strategy }), strategy: strategy.name };
  }

  private placementRequest(shape: Shape, o: PlacementOptions): { placementReq: PlacementRequest; strategy: Strategy } {
    if (o.node && !this.snapshot.get(o.node)) throw invalidArgument(`node ${o.node} is not registered (berthctl node list shows the nodes)`);
    if (o.spreadOver && !o.cluster) throw invalidArgument('spread_over needs a cluster: it spreads the members of one cluster');
    const name = o.strategy || this.cfg.scheduler.strategy;
    const strategy = findStrategy(name);
    if (!strategy) throw invalidArgument(`unknown strategy "${name.slice(0, 40)}": use spread, binpack or weighted`);
    const placementReq: PlacementRequest = { ...shape, node: o.node, constraints: o.constraints?.length ? o.constraints : undefined, cluster: o.cluster || undefined, spreadOver: o.spreadOver };
    return { placementReq, strategy };
  }

  delete(idOrName: string): OperationRow {
    const i = this.store.instances.find(idOrName);
    if (!i) throw notFound(`no instance ${idOrName}`);
    if (this.engine.busy(i.id) && i.state !== 'running') {
      throw failedPrecondition(`instance ${i.name} is ${i.state}: wait for its operation to end, then delete it`);
    }
    const opId = newId('op');
    this.store.tx(() => {
      this.store.operations.insert(opId, 'delete', i.id, this.engine.stepNames('delete'));
      this.store.events.add('delete.started', i.id, `delete ${i.name} on ${i.node}`);
    });
    this.engine.start(opId);
    return this.store.operations.get(opId)!;
  }

  // Frees the reservation: the row goes, and with it the node's CPU, memory, disk and port.
  private release(id: string): void {
    const i = this.store.instances.get(id);
    if (!i) return;
    this.store.instances.delete(id);
    this.snapshot.removeInstance(i);
  }

  private must(id: string): InstanceRow {
    const i = this.store.instances.get(id);
    if (!i) throw new Error(`instance ${id} is gone from the store`);
    return i;
  }
}
