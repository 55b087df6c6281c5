import type { FleetIndex } from './fleet-index';
import { DEFAULT_FILTERS } from './filters/index';
import { hasSoft, placeOn, schedule } from './schedule';
import type { FilterContext, PlacementRequest, ScheduleResult, Strategy } from './types';

// schedule() over the struct-of-arrays index: the same decision as the reference in
// schedule.ts, which stays the readable definition and the test oracle (scan.test.ts checks the
// two agree on random fleets). The rules are not coded here: every filter of DEFAULT_FILTERS and
// the strategy run in their columnar form, each a tight loop of its own over the typed arrays,
// and this only picks the best of what passed. Only the answer is fast: when no node fits, the
// reference runs to word the per-filter reasons, which only a refused request needs.
export function scanSchedule(ix: FleetIndex, req: PlacementRequest, ctx: FilterContext, strategy: Strategy): ScheduleResult {
  let found = scan(ix, req, ctx, strategy, false);
  let relaxed = false;
  if (found < 0 && hasSoft(req)) {
    found = scan(ix, req, ctx, strategy, true);
    relaxed = true;
  }
  if (found < 0) return schedule(ix.nodes, req, ctx, { strategy });
  const r = placeOn(ix.nodes[found]!, bestScore, req, ctx, strategy);
  if (r.ok && relaxed) r.relaxedSoft = true;
  return r;
}

// The winner's score, kept outside the scan so it returns a plain index (no object per call).
let bestScore = -Infinity;

function scan(ix: FleetIndex, req: PlacementRequest, ctx0: FilterContext, strategy: Strategy, relaxSoft: boolean): number {
  const n = ix.length;
  const { pass, scores } = ix.scratch;
  pass.fill(1, 0, n);
  // The same four fields as schedule.ts gives the per-node forms; the columnar topology filter
  // reads its occupied values from the group index instead of occupiedDomains.
  const ctx: FilterContext = { now: ctx0.now, config: ctx0.config, occupiedDomains: undefined, relaxSoft };
  for (const f of DEFAULT_FILTERS) if (!f.applies || f.applies(req, ctx.config)) f.columns(ix, req, ctx, pass);
  strategy.scores(ix, req, ctx.config, pass, scores);
  let best = -1;
  let top = -Infinity;
  for (let i = 0; i < n; i++) {
    if (pass[i] === 0) continue;
    const score = scores[i]!;
    if (best < 0 || score > top || (score === top && better(ix, i, best))) {
      best = i;
      top = score;
    }
  }
  bestScore = top;
  return best;
}

// schedule.ts better(): fewer instances, then the stable name hash, then the name.
function better(ix: FleetIndex, i: number, cur: number): boolean {
  if (ix.count[i] !== ix.count[cur]) return ix.count[i]! < ix.count[cur]!;
  if (ix.tieHash[i] !== ix.tieHash[cur]) return ix.tieHash[i]! < ix.tieHash[cur]!;
  return ix.nodes[i]!.name < ix.nodes[cur]!.name;
}
