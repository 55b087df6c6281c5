import { failedPrecondition, invalidArgument, notFound, resourceExhausted } from '../../src/errors';
import type { Shape } from '../../src/validate';
import { memberMoveRefusal, memberResizeRefusal } from '../clusters/guard';
import type { UsageMap } from '../state/usage';
import { DRAINING } from './drain';
import type { Engine } from './engine';
import { newOperationId } from './engine';
import type { Constraint, SchedulerConfig } from '../scheduler/types';
import { findStrategy } from '../scheduler/strategies/index';
import type { FleetState } from '../state/fleet';
import type { InstanceRow } from '../store/instances';
import type { OperationRow } from '../store/operations';
import { decideResize, diskShrinkError, mergeShape, type ResizeDecision, type ResizeMode } from './resize-decision';
import { isReservation, reserveAt, type Where } from './reservation';

export interface ResizeRequest {
  instance: string;
  change: Partial<Shape>;
  mode: ResizeMode;
  node?: string;
  constraints?: Constraint[];
  strategy?: string;
  // Who asked (the API, the automatic expansion): in the event.
  by?: string;
}

export interface MoveDeps {
  fleet: FleetState;
  engine: Engine;
  usage: UsageMap;
  scheduler: SchedulerConfig;
  drainConcurrency?: number;
}

// Manual resizes, migrations and drains, as the API and the automatic expansion ask for them:
// decide (the real scheduler, on the live snapshot), reserve and record the operation in one
// fleet change, then start it. The operation types carry the work out (operations/resize.ts,
// migrate.ts, drain.ts).
export class MoveOps {
  constructor(private readonly d: MoveDeps) {}

  private get store() {
    return this.d.fleet.store;
  }

  find(ref: string): InstanceRow {
    if (!ref) throw invalidArgument('instance (an id or a name) is required');
    const i = this.store.instances.find(ref);
    if (!i) throw notFound(`no instance ${ref}`);
    if (isReservation(i.name)) throw invalidArgument(`${ref} is the reservation of a migration, not an instance`);
    return i;
  }

  // The dry run: the same decision resize() makes, nothing written.
  plan(req: ResizeRequest): { decision: ResizeDecision; next: Shape; instance: InstanceRow } {
    const i = this.find(req.instance);
    const next = mergeShape(i, req.change);
    const used = this.d.usage.get(i.id)?.usedDiskBytes ?? 0;
    const shrink = diskShrinkError(i, next, used);
    if (shrink) throw invalidArgument(shrink);
    if (req.node && !this.d.fleet.snapshot.get(req.node)) throw invalidArgument(`node ${req.node} is not registered`);
    if (req.node === i.node && req.mode === 'migrate') throw invalidArgument(`the instance is on ${req.node} already: a migration needs another node`);
    const strategy = req.strategy ? findStrategy(req.strategy) : undefined;
    if (req.strategy && !strategy) throw invalidArgument(`unknown strategy "${req.strategy}": use spread, binpack or weighted`);
    const decision = decideResize({
      mode: req.mode,
      instance: i,
      next,
      nodes: this.d.fleet.snapshot.nodes(),
      usedDiskBytes: used,
      target: { node: req.node, constraints: req.constraints, strategy },
      ctx: { now: Date.now(), config: this.d.scheduler },
    });
    return { decision, next, instance: i };
  }

  resize(req: ResizeRequest): OperationRow {
    const opId = newOperationId();
    this.d.fleet.change(() => {
      const { decision, next, instance: i } = this.plan(req);
      const member = memberResizeRefusal(i, req.mode, decision.kind);
      if (member) throw failedPrecondition(member);
      if (decision.kind === 'refused') throw resourceExhausted(`resize of ${i.name} refused: ${decision.reason}`);
      if (i.state !== 'running' && decision.kind !== 'none') throw failedPrecondition(`instance ${i.name} is ${i.state}: only a running instance is resized`);
      const from: Shape = { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes };
      const subjects = [{ kind: 'instance' as const, name: i.id }];
      if (decision.kind === 'migrate') {
        this.recordMigration(opId, i, next, decision.placement, { resize: true, reason: decision.reason });
      } else {
        const params = { instanceId: i.id, from, to: next, decision: decision.kind, reason: decision.reason };
        this.d.engine.record({ id: opId, type: 'resize', params, subjects, ifBusy: 'refuse', firstPending: decision.kind === 'none' ? 2 : 1 });
        if (decision.kind === 'in-place') this.d.fleet.resizeInstance(i.id, next);
      }
      this.d.fleet.event('resize.started', i.id, `${i.name}: ${decision.kind} (${decision.reason})${req.by ? ` by ${req.by}` : ''}`);
    });
    this.d.engine.start(opId);
    return this.store.operations.get(opId)!;
  }

  // Every instance off the node, a few migrations at a time; the node is held meanwhile.
  drain(node: string, concurrency = this.d.drainConcurrency ?? 2): OperationRow {
    const opId = newOperationId();
    this.d.fleet.change(() => {
      const n = this.store.nodes.get(node);
      if (!n) throw notFound(`no node ${node}`);
      this.d.engine.record({ id: opId, type: 'drain', params: { node, concurrency, wasCordoned: n.cordoned }, subjects: [{ kind: 'node', name: node }], ifBusy: 'refuse' });
      if (!n.cordoned) this.d.fleet.setCordoned(node, true, DRAINING);
      this.d.fleet.event('drain.started', node, `drain of ${node}: ${this.store.instances.onNode(node).length} instances to move, ${concurrency} at a time`);
    });
    this.d.engine.start(opId);
    return this.store.operations.get(opId)!;
  }

  // The target is reserved beside the source in the same change that records the operation.
  recordMigration(opId: string, i: InstanceRow, to: Shape, target: Where, extra: Record<string, unknown> = {}): void {
    const member = memberMoveRefusal(i);
    if (member) throw failedPrecondition(`${i.name} is not moved to another node: ${member}`);
    const r = reserveAt(this.d.fleet, i, to, opId, target);
    const from: Shape = { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes };
    const params = { instanceId: i.id, reservationId: r.reservationId, from, to, source: r.source, target: r.target, ...extra };
    this.d.engine.record({ id: opId, type: 'migrate', params, subjects: [{ kind: 'instance', name: i.id }], ifBusy: 'refuse' });
  }
}
