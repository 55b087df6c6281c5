import { createHash } from 'node:crypto';
import { DEFAULT_FILTERS } from './filters/index';
import { fittingDisks } from './filters/disk';
import { firstFreePort } from './filters/port';
import { spread } from './strategies/spread';
import type { Filter, FilterContext, NodeSnapshot, PlacementRequest, ScheduleResult, Strategy } from './types';

// Pure: the same nodes, request and clock give the same answer. No I/O, so the caller can run
// it inside the store transaction that records the reservation.
export function schedule(
  nodes: Iterable<NodeSnapshot>,
  req: PlacementRequest,
  ctx: FilterContext,
  opts: { filters?: Filter[]; strategy?: Strategy } = {},
): ScheduleResult {
  const filters = opts.filters ?? DEFAULT_FILTERS;
  const strategy = opts.strategy ?? spread;
  const reasons = new Map<string, number>();
  let total = 0;
  let best: { node: NodeSnapshot; score: number; tie: string } | undefined;

  for (const node of nodes) {
    total++;
    let reason: string | undefined;
    for (const f of filters) {
      reason = f.filter(node, req, ctx);
      if (reason) break;
    }
    if (reason) {
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      continue;
    }
    const score = strategy.score(node, req);
    if (!best || score > best.score || (score === best.score && better(node, best))) {
      best = { node, score, tie: tieKey(node.name) };
    }
  }
  if (!best) return { ok: false, total, reasons };
  const disk = strategy.pickDisk(fittingDisks(best.node.disks, req), req);
  return {
    ok: true,
    placement: { node: best.node.name, host: best.node.host, diskPath: disk.path, port: firstFreePort(best.node)!, score: best.score },
  };
}

// Ties: fewer instances first, then a stable hash of the name (not the name itself, so equal
// nodes are not always filled in alphabetical order).
function better(node: NodeSnapshot, cur: { node: NodeSnapshot; tie: string }): boolean {
  if (node.instanceCount !== cur.node.instanceCount) return node.instanceCount < cur.node.instanceCount;
  return tieKey(node.name) < cur.tie;
}

function tieKey(name: string): string {
  return createHash('sha1').update(name).digest('hex').slice(0, 8);
}

// "0/3 nodes can take it: 2 insufficient memory, 1 node cordoned"
export function explain(result: Extract<ScheduleResult, { ok: false }>): string {
  if (result.total === 0) return 'no nodes have registered';
  const parts = [...result.reasons.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([r, n]) => `${n} ${r}`);
  return `0/${result.total} nodes can take it: ${parts.join(', ')}`;
}
