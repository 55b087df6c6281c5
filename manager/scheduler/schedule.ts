import { DEFAULT_FILTERS } from './filters/index';
import { fittingDisks } from './filters/disk';
import { firstFreePort } from './filters/port';
import { findStrategy } from './strategies/index';
import { spread } from './strategies/spread';
import type { Filter, FilterContext, NodeSnapshot, Placement, PlacementRequest, ScheduleResult, Strategy, Verdict } from './types';

export interface ScheduleOptions {
  filters?: Filter[];
  // Default: the strategy named in ctx.config.strategy.
  strategy?: Strategy;
}

// Pure: the same nodes, request and clock give the same answer. No I/O, so the caller can run
// it inside the store transaction that records the reservation.
//
// Soft constraints and soft spreading are first enforced like hard ones; only when no node
// passes does the scheduler try again without them (relaxedSoft tells the caller it did).
export function schedule(nodes: readonly NodeSnapshot[], req: PlacementRequest, ctx: FilterContext, opts: ScheduleOptions = {}): ScheduleResult {
  return run(nodes, req, ctx, opts);
}

// The dry run: every node's verdict (its first failing filter, or its score), and the placement
// schedule() would make, from the same code path.
export function plan(
  nodes: readonly NodeSnapshot[],
  req: PlacementRequest,
  ctx: FilterContext,
  opts: ScheduleOptions = {},
): { result: ScheduleResult; verdicts: Verdict[] } {
  let verdicts: Verdict[] = [];
  const result = run(nodes, req, ctx, opts, () => (verdicts = []), (v) => verdicts.push(v));
  return { result, verdicts };
}

export function hasSoft(req: PlacementRequest): boolean {
  return !!(req.constraints?.some((c) => c.soft) || (req.spreadOver?.soft && req.antiAffinityGroup));
}

function run(
  nodes: readonly NodeSnapshot[],
  req: PlacementRequest,
  ctx0: FilterContext,
  opts: ScheduleOptions,
  onPass?: () => void,
  onVerdict?: (v: Verdict) => void,
): ScheduleResult {
  const filters = (opts.filters ?? DEFAULT_FILTERS).filter((f) => !f.applies || f.applies(req, ctx0.config));
  const strategy = opts.strategy ?? findStrategy(ctx0.config.strategy) ?? spread;
  // Always the same four fields in the same order: filters see one object shape, and V8 keeps
  // them optimized.
  const domains = req.antiAffinityGroup && req.spreadOver ? occupiedDomains(nodes, req.antiAffinityGroup, req.spreadOver.key) : undefined;
  const ctx: FilterContext = { now: ctx0.now, config: ctx0.config, occupiedDomains: domains, relaxSoft: false };

  onPass?.();
  let r = pass(nodes, req, ctx, filters, strategy, onVerdict);
  if (!r.ok && hasSoft(req)) {
    onPass?.();
    r = pass(nodes, req, { now: ctx.now, config: ctx.config, occupiedDomains: domains, relaxSoft: true }, filters, strategy, onVerdict);
    if (r.ok) r.relaxedSoft = true;
  }
  return r;
}

function pass(
  nodes: readonly NodeSnapshot[],
  req: PlacementRequest,
  ctx: FilterContext,
  filters: Filter[],
  strategy: Strategy,
  onVerdict?: (v: Verdict) => void,
): ScheduleResult {
  const reasons = new Map<string, number>();
  let best: NodeSnapshot | undefined;
  let bestScore = -Infinity;

  // The hot loop of every placement: no allocation per node, no closures, no strings unless the
  // node fails (and then filters return preformatted reasons). Kept small, with the rare paths
  // in their own functions, so V8 optimizes it once and keeps it.
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const failed = firstFailure(filters, node, req, ctx);
    if (failed >= 0) {
      reject(reasons, filters[failed]!, node, req, ctx, onVerdict);
      continue;
    }
    const score = strategy.score(node, req, ctx.config);
    if (onVerdict) onVerdict({ node: node.name, score });
    if (best === undefined || score > bestScore || (score === bestScore && better(node, best))) {
      best = node;
      bestScore = score;
    }
  }
  return best ? placeOn(best, bestScore, req, ctx, strategy) : { ok: false, total: nodes.length, reasons };
}

function firstFailure(filters: Filter[], node: NodeSnapshot, req: PlacementRequest, ctx: FilterContext): number {
  for (let j = 0; j < filters.length; j++) if (filters[j]!.filter(node, req, ctx) !== undefined) return j;
  return -1;
}

// Filters are pure: asking the failing one again for its reason costs less than carrying the
// string through the hot loop.
function reject(reasons: Map<string, number>, f: Filter, node: NodeSnapshot, req: PlacementRequest, ctx: FilterContext, onVerdict?: (v: Verdict) => void): void {
  const reason = f.filter(node, req, ctx)!;
  reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  if (onVerdict) onVerdict({ node: node.name, filter: f.name, reason });
}

export function placeOn(best: NodeSnapshot, score: number, req: PlacementRequest, ctx: FilterContext, strategy: Strategy): ScheduleResult {
  const disk = strategy.pickDisk(fittingDisks(best.disks, req), req, ctx.config);
  const placement: Placement = { node: best.name, host: best.host, diskPath: disk.path, port: firstFreePort(best)!, score };
  return { ok: true, placement, relaxedSoft: false };
}

// The values of the spread label held by the group's members (FilterContext.occupiedDomains).
export function occupiedDomains(nodes: readonly NodeSnapshot[], group: string, key: string): Set<string> {
  const out = new Set<string>();
  for (const n of nodes) {
    if (!n.antiAffinityGroups?.get(group)) continue;
    const v = n.labels[key];
    if (v !== undefined) out.add(v);
  }
  return out;
}

// Ties: fewer instances first, then a stable hash of the name (not the name itself, so equal
// nodes are not always filled in alphabetical order).
function better(node: NodeSnapshot, cur: NodeSnapshot): boolean {
  if (node.instanceCount !== cur.instanceCount) return node.instanceCount < cur.instanceCount;
  const a = node.tieHash ?? nameHash(node.name);
  const b = cur.tieHash ?? nameHash(cur.name);
  return a !== b ? a < b : node.name < cur.name;
}

// FNV-1a, 32 bits: cheap, stable across processes and versions.
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

// "0/3 nodes can take it: 2 insufficient memory, 1 node cordoned"
export function explain(result: Extract<ScheduleResult, { ok: false }>): string {
  if (result.total === 0) return 'no nodes have registered';
  const parts = [...result.reasons.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([r, n]) => `${n} ${r}`);
  return `0/${result.total} nodes can take it: ${parts.join(', ')}`;
}
