import type { FleetIndex } from './fleet-index';
import { hasSoft, placeOn, schedule } from './schedule';
import { binpack } from './strategies/binpack';
import { spread } from './strategies/spread';
import { weighted } from './strategies/weighted';
import type { FilterContext, PlacementRequest, ScheduleResult, Strategy } from './types';

const CORDONED = 1;
const HAS_PORT = 2;
const SPREAD = 0;
const BINPACK = 1;
const WEIGHTED = 2;

// schedule() over the struct-of-arrays index: the same decision as the reference in
// schedule.ts, which stays the readable definition and the test oracle (scan.test.ts checks the
// two agree on random fleets). Only the answer is fast: when no node fits, the reference runs
// to word the per-filter reasons, which only a refused request needs.
export function scanSchedule(ix: FleetIndex, req: PlacementRequest, ctx: FilterContext, strategy: Strategy): ScheduleResult {
  const kind = strategy === spread ? SPREAD : strategy === binpack ? BINPACK : strategy === weighted ? WEIGHTED : -1;
  if (kind < 0) return schedule(ix.nodes, req, ctx, { strategy });
  let found = scan(ix, req, ctx, kind, false);
  let relaxed = false;
  if (found < 0 && hasSoft(req)) {
    found = scan(ix, req, ctx, kind, true);
    relaxed = true;
  }
  if (found < 0) return schedule(ix.nodes, req, ctx, { strategy });
  const r = placeOn(ix.nodes[found]!, bestScore, req, ctx, strategy);
  if (r.ok && relaxed) r.relaxedSoft = true;
  return r;
}

// The winner's score, kept outside the scan so it returns a plain index (no object per call).
let bestScore = -Infinity;

function scan(ix: FleetIndex, req: PlacementRequest, ctx: FilterContext, kind: number, relaxSoft: boolean): number {
  let from = 0;
  let to = ix.length;
  if (req.node) {
    const at = ix.indexOf(req.node);
    if (at === undefined) return -1;
    from = at;
    to = at + 1;
  }
  const masks = constraintMasks(ix, req, relaxSoft);
  const group = req.cluster ? ix.groups.get(req.cluster) : undefined;
  const topo = topologyMask(ix, req, relaxSoft);
  const { now, config } = ctx;
  const timeout = config.nodeTimeoutMs;
  const cpuOver = config.cpuOvercommit;
  const memOver = config.memoryOvercommit;
  const maxInst = config.maxInstancesPerNode;
  const rc = req.cpuMillis;
  const rm = req.memoryBytes;
  const rd = req.diskBytes;
  const { heartbeat, flags, cpuAlloc, cpuCap, memAlloc, memCap, diskMaxFit, diskTotal, diskAlloc, count } = ix;
  let best = -1;
  let top = -Infinity;
  for (let i = from; i < to; i++) {
    if (now - heartbeat[i]! > timeout || (flags[i]! & (CORDONED | HAS_PORT)) !== HAS_PORT) continue;
    if (cpuAlloc[i]! + rc > cpuCap[i]! * cpuOver || memAlloc[i]! + rm > memCap[i]! * memOver) continue;
    if (diskMaxFit[i]! < rd || (maxInst > 0 && count[i]! >= maxInst)) continue;
    if ((masks !== undefined && !passesAll(masks, i)) || (group !== undefined && group.has(i)) || (topo !== undefined && topo[i] === 0)) continue;
    const cpuShare = (cpuAlloc[i]! + rc) / cpuCap[i]!;
    const memShare = (memAlloc[i]! + rm) / memCap[i]!;
    let score: number;
    if (kind === SPREAD) score = (1 - (cpuShare + memShare) / 2) * 100;
    else {
      const diskShare = diskTotal[i]! > 0 ? (rd + diskAlloc[i]!) / diskTotal[i]! : 1;
      score = kind === BINPACK ? ((cpuShare + memShare + diskShare) / 3) * 100 : weightedScore(config.weights, cpuShare, memShare, diskShare);
    }
    if (best < 0 || score > top || (score === top && better(ix, i, best))) {
      best = i;
      top = score;
    }
  }
  bestScore = top;
  return best;
}

// The same arithmetic, in the same order, as strategies/share.ts weightedShare: a different
// order of float operations could rank two nodes differently from the reference.
function weightedScore(w: { cpu: number; memory: number; disk: number }, cpu: number, memory: number, disk: number): number {
  let sum = 0;
  let wsum = 0;
  if (w.cpu) (sum += w.cpu * cpu), (wsum += Math.abs(w.cpu));
  if (w.memory) (sum += w.memory * memory), (wsum += Math.abs(w.memory));
  if (w.disk) (sum += w.disk * disk), (wsum += Math.abs(w.disk));
  return wsum ? (sum / wsum) * 100 : 0;
}

function constraintMasks(ix: FleetIndex, req: PlacementRequest, relaxSoft: boolean): Uint8Array[] | undefined {
  if (!req.constraints?.length) return undefined;
  const out: Uint8Array[] = [];
  for (const c of req.constraints) if (!(c.soft && relaxSoft)) out.push(ix.mask(c));
  return out.length ? out : undefined;
}

function passesAll(masks: Uint8Array[], i: number): boolean {
  for (let j = 0; j < masks.length; j++) if (masks[j]![i] === 0) return false;
  return true;
}

// Spreading a group over a label: a node passes when it has the label and no member of the
// group sits on a node with the same value. Occupied values come from the group index, not a
// scan of the fleet.
function topologyMask(ix: FleetIndex, req: PlacementRequest, relaxSoft: boolean): Uint8Array | undefined {
  const s = req.spreadOver;
  if (!s || !req.cluster || (s.soft && relaxSoft)) return undefined;
  const col = ix.column(s.key);
  const occupied = new Set<string>();
  for (const i of ix.groups.get(req.cluster) ?? []) {
    const v = col[i];
    if (v !== undefined) occupied.add(v);
  }
  const m = new Uint8Array(ix.length);
  for (let i = 0; i < m.length; i++) {
    const v = col[i];
    m[i] = v !== undefined && !occupied.has(v) ? 1 : 0;
  }
  return m;
}

// schedule.ts better(): fewer instances, then the stable name hash, then the name.
function better(ix: FleetIndex, i: number, cur: number): boolean {
  if (ix.count[i] !== ix.count[cur]) return ix.count[i]! < ix.count[cur]!;
  if (ix.tieHash[i] !== ix.tieHash[cur]) return ix.tieHash[i]! < ix.tieHash[cur]!;
  return ix.nodes[i]!.name < ix.nodes[cur]!.name;
}
