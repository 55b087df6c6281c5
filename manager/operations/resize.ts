import type { Shape } from '../../src/validate';
import type { OperationDeps } from './deps';
import { mustInstance } from './deps';
import type { OperationType, StepContext } from './types';

export interface ResizeParams {
  instanceId: string;
  from: Shape;
  to: Shape;
  // in-place, or none (already that shape: the operation is recorded done).
  decision: 'in-place' | 'none';
  reason: string;
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

// In place. The new shape is reserved (step 0) in the transaction that records the operation,
// with the fit check (MoveOps, operations/moves.ts), so two resizes never both take the last
// gigabyte; undoing it gives the old shape back. The agent applies limits and mysqld's memory
// variables in the safe order and answers with what it read back, which is checked here.
export function resizeOperation(d: OperationDeps): OperationType<ResizeParams> {
  return {
    type: 'resize',
    failed: (ctx, f) => d.fleet.event('resize.failed', ctx.params.instanceId, `resize of ${ctx.params.instanceId} failed${f.clean ? ', old shape kept' : ''}: ${f.error}`),
    steps: [
      { name: 'reserve', run: async () => undefined, undo: async (ctx) => void d.fleet.resizeInstance(ctx.params.instanceId, ctx.params.from) },
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
