import type { PlanInstanceRequest__Output } from '../../src/gen/berth/v1/PlanInstanceRequest';
import type { PlanInstanceResponse } from '../../src/gen/berth/v1/PlanInstanceResponse';
import type { ResizeInstanceRequest__Output } from '../../src/gen/berth/v1/ResizeInstanceRequest';
import { checkName, checkResizeMode, checkShapeChange, checkStrategyName } from '../../src/validate';
import { parseConstraints } from '../scheduler/constraints';
import type { OperationDeps } from '../operations/deps';
import { planResize as decide, type ResizeRequest } from '../operations/resize';

// The API edge of resizes: every field checked through src/validate before anything is decided.
export function resizeRequest(r: { instance: string; resources: ResizeInstanceRequest__Output['resources']; mode: string; node?: string; constraints?: string[]; strategy?: string }): ResizeRequest {
  if (r.node) checkName('node name', r.node);
  return {
    instance: r.instance,
    change: checkShapeChange(r.resources),
    mode: checkResizeMode(r.mode),
    node: r.node || undefined,
    constraints: parseConstraints(r.constraints ?? []),
    strategy: checkStrategyName(r.strategy),
    by: 'api',
  };
}

export function planResize(ops: OperationDeps, req: PlanInstanceRequest__Output): PlanInstanceResponse {
  const { decision, next } = decide(ops, resizeRequest({ instance: req.resizeInstance, resources: req.resources, mode: req.resizeMode, node: req.node, constraints: req.constraints, strategy: req.strategy }));
  const chosen = decision.kind === 'migrate' ? decision.placement.node : '';
  const verdicts = 'verdicts' in decision ? decision.verdicts : [];
  return {
    verdicts: verdicts.map((v) => ({ node: v.node, fits: v.score !== undefined, filter: v.filter ?? '', reason: v.reason ?? '', score: v.score ?? 0, chosen: v.node === chosen })),
    placement: decision.kind === 'migrate' ? decision.placement : null,
    message: decision.kind === 'refused' ? decision.reason : '',
    strategy: req.strategy,
    relaxedSoft: false,
    resizeDecision: decision.kind === 'refused' ? 'refused' : decision.kind,
    resizeReason: decision.reason,
    resizeShape: next,
  };
}
