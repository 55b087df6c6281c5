import { failedPrecondition, invalidArgument, notFound, resourceExhausted } from '../../src/errors';
import type { Shape } from '../../src/validate';
import { memberResizeRefusal } from '../clusters/guard';
import type { Constraint } from '../scheduler/types';
import type { InstanceRow } from '../store/instances';
import type { OperationDeps } from './deps';
import { mustInstance } from './deps';
import { admitMigration } from './migrate';
import { strategyNamed } from './placement';
import { isReservation } from './reservation';
import { decideResize, diskShrinkError, mergeShape, type ResizeDecision, type ResizeMode } from './resize-decision';
import type { AdmitContext, Admission, OperationType, Redirect, StepContext } from './types';

export interface ResizeParams {
  instanceId: string;
  from: Shape;
  to: Shape;
  // in-place, or none (already that shape: the operation is recorded done).
  decision: 'in-place' | 'none';
  reason: string;
}

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

export interface ResizeApplied {
  nanoCpus: number;
  memoryBytes: number;
  memorySwapBytes: number;
  bufferPoolBytes: number;
  maxConnections: number;
  uptimeSeconds: number;
  applyMs: number;
}

type Ctx = StepContext<ResizeParams>;

// An instance a resize or migration may name (not a migration's target reservation).
export function resizable(d: OperationDeps, ref: string): InstanceRow {
  if (!ref) throw invalidArgument('instance (an id or a name) is required');
  const i = d.fleet.store.instances.find(ref);
  if (!i) throw notFound(`no instance ${ref}`);
  if (isReservation(i.name)) throw invalidArgument(`${ref} is the reservation of a migration, not an instance`);
  return i;
}

// The dry run (PlanInstance, the automatic expansion): the decision a resize makes, nothing written.
export function planResize(d: OperationDeps, req: ResizeRequest): { decision: ResizeDecision; next: Shape; instance: InstanceRow } {
  const i = resizable(d, req.instance);
  const next = mergeShape(i, req.change);
  const used = d.usage?.get(i.id)?.usedDiskBytes ?? 0;
  const shrink = diskShrinkError(i, next, used);
  if (shrink) throw invalidArgument(shrink);
  if (req.node && !d.fleet.snapshot.get(req.node)) throw invalidArgument(`node ${req.node} is not registered`);
  if (req.node === i.node && req.mode === 'migrate') throw invalidArgument(`the instance is on ${req.node} already: a migration needs another node`);
  const strategy = req.strategy ? strategyNamed(d, req.strategy) : undefined;
  const target = { node: req.node, constraints: req.constraints, strategy };
  const decision = decideResize({ mode: req.mode, instance: i, next, nodes: d.fleet.snapshot.nodes(), usedDiskBytes: used, target, ctx: { now: Date.now(), config: d.scheduler } });
  return { decision, next, instance: i };
}

function admitResize(d: OperationDeps, req: ResizeRequest, a: AdmitContext): Admission<ResizeParams> | Redirect {
  const { decision, next, instance: i } = planResize(d, req);
  const member = memberResizeRefusal(i, req.mode, decision.kind);
  if (member) throw failedPrecondition(member);
  if (decision.kind === 'refused') throw resourceExhausted(`resize of ${i.name} refused: ${decision.reason}`);
  if (i.state !== 'running' && decision.kind !== 'none') throw failedPrecondition(`instance ${i.name} is ${i.state}: only a running instance is resized`);
  d.fleet.event('resize.started', i.id, `${i.name}: ${decision.kind} (${decision.reason})${req.by ? ` by ${req.by}` : ''}`);
  if (decision.kind === 'migrate') {
    return { ...admitMigration(d, { instanceId: i.id, to: next, target: decision.placement, resize: true, reason: decision.reason }, a), type: 'migrate' };
  }
  const from: Shape = { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes };
  if (decision.kind === 'in-place') d.fleet.resizeInstance(i.id, next);
  const params: ResizeParams = { instanceId: i.id, from, to: next, decision: decision.kind, reason: decision.reason };
  return { params, subjects: [{ kind: 'instance', name: i.id }], ifBusy: 'refuse', firstPending: decision.kind === 'none' ? 1 : 0 };
}

// Decided by the real scheduler on the live snapshot, in the transaction that records it: in
// place (the new shape reserved with the fit check, so two resizes never both take the last
// gigabyte; release() gives the old shape back), or a migration (admitted as one, its target
// reserved). The agent applies limits and mysqld's memory variables in the safe order and
// answers with what it read back, which is checked here.
export function resizeOperation(d: OperationDeps): OperationType<ResizeParams, ResizeRequest> {
  return {
    type: 'resize',
    admit: (r, a) => admitResize(d, r, a),
    release: { run: (ctx) => void d.fleet.resizeInstance(ctx.params.instanceId, ctx.params.from) },
    failed: (ctx, f) => d.fleet.event('resize.failed', ctx.params.instanceId, `resize of ${ctx.params.instanceId} failed${f.clean ? ', old shape kept' : ''}: ${f.error}`),
    steps: [
      { name: 'apply', retries: 2, backoffMs: 1000, timeoutMs: 120_000, run: (ctx) => apply(d, ctx, ctx.params.to), undo: async (ctx) => void (await apply(d, ctx, ctx.params.from)) },
    ],
  };
}

async function apply(d: OperationDeps, ctx: Ctx, to: Shape): Promise<ResizeApplied> {
  const i = mustInstance(d, ctx.params.instanceId);
  ctx.progress({ phase: `applying ${to.cpuMillis}m cpu, ${to.memoryBytes} bytes memory` });
  const r = await d.agents.for(i.node).resizeInstance({ id: i.id, resources: to }, 90_000);
  const applied: ResizeApplied = {
    nanoCpus: r.nanoCpus,
    memoryBytes: r.memoryBytes,
    memorySwapBytes: r.memorySwapBytes,
    bufferPoolBytes: r.bufferPoolBytes,
    maxConnections: r.maxConnections,
    uptimeSeconds: r.uptimeSeconds,
    applyMs: r.applyMs,
  };
  if (applied.memoryBytes !== to.memoryBytes || applied.memorySwapBytes !== to.memoryBytes || applied.nanoCpus !== to.cpuMillis * 1_000_000) {
    throw new Error(`docker reports limits ${JSON.stringify(applied)} after the update, not ${JSON.stringify(to)}`);
  }
  if (ctx.params.decision === 'in-place' && to === ctx.params.to) d.fleet.event('instance.resized', i.id, `${i.name} resized in place to ${to.cpuMillis}m cpu, ${to.memoryBytes} bytes memory, ${to.diskBytes} bytes disk (${applied.applyMs} ms)`);
  return applied;
}
