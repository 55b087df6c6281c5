import { schedule } from '../scheduler/schedule';
import { placeOnNode } from '../scheduler/snapshot';
import type { FilterContext, NodeSnapshot, PlacementRequest } from '../scheduler/types';

export interface FitShape {
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
  zone?: string;
}

export type Resource = 'cpu' | 'memory' | 'disk' | 'ports' | 'nodes';

export interface FitResult {
  shape: FitShape;
  // How many more instances of this shape the fleet takes now, placed one after another by the
  // real scheduler (same filters, same strategy) on a copy of the snapshot.
  count: number;
  perNode: Record<string, number>;
  // What stopped the next placement: the reason most nodes gave, as a resource.
  limitedBy: Resource | 'limit';
  // The scheduler's reasons at the first rejection, counted per reason.
  reasons: Record<string, number>;
  // True when counting stopped (MAX_FIT placements, or MAX_FIT_WORK) before any rejection: the
  // fleet takes at least `count`.
  truncated: boolean;
}

export const MAX_FIT = 10_000;
// Each placement asks every node: stop once placements × nodes passes this, so one answer keeps
// the manager's event loop busy for about a second at most (measured: 500 nodes, ~1 ms per placement).
export const MAX_FIT_WORK = 1_000_000;

// Deep enough that placing on the copy never changes the original.
export function cloneNodes(nodes: Iterable<NodeSnapshot>): NodeSnapshot[] {
  return [...nodes].map((n) => ({
    ...n,
    labels: { ...n.labels },
    capacity: { ...n.capacity },
    allocated: { ...n.allocated },
    disks: n.disks.map((d) => ({ ...d })),
    usedPorts: new Set(n.usedPorts),
    antiAffinityGroups: n.antiAffinityGroups && new Map(n.antiAffinityGroups),
  }));
}

const REASON_RESOURCE: [RegExp, Resource][] = [
  [/cpu/, 'cpu'],
  [/memory/, 'memory'],
  [/disk/, 'disk'],
  [/port/, 'ports'],
];

export function reasonResource(reason: string): Resource {
  for (const [re, r] of REASON_RESOURCE) if (re.test(reason)) return r;
  return 'nodes'; // down, cordoned, not in the zone, …: no node to use
}

export function fit(nodes: Iterable<NodeSnapshot>, shape: FitShape, ctx: FilterContext, maxCount = MAX_FIT, maxWork = MAX_FIT_WORK): FitResult {
  const copy = cloneNodes(nodes).filter((n) => !shape.zone || n.labels.zone === shape.zone);
  const byName = new Map(copy.map((n) => [n.name, n]));
  const req: PlacementRequest = { cpuMillis: shape.cpuMillis, memoryBytes: shape.memoryBytes, diskBytes: shape.diskBytes };
  const perNode: Record<string, number> = {};
  let count = 0;
  for (;;) {
    if (count >= maxCount || count * copy.length >= maxWork) return { shape, count, perNode, limitedBy: 'limit', reasons: {}, truncated: true };
    const r = schedule(copy, req, ctx);
    if (!r.ok) {
      const reasons = Object.fromEntries(r.reasons);
      return { shape, count, perNode, limitedBy: dominant(r.reasons), reasons, truncated: false };
    }
    placeOnNode(byName.get(r.placement.node)!, { ...req, diskPath: r.placement.diskPath, port: r.placement.port });
    perNode[r.placement.node] = (perNode[r.placement.node] ?? 0) + 1;
    count++;
  }
}

// Resources that could still be added to are what planners act on: prefer them over "no nodes"
// when some nodes are down or cordoned and others are full.
function dominant(reasons: Map<string, number>): Resource {
  const perResource = new Map<Resource, number>();
  for (const [reason, n] of reasons) {
    const r = reasonResource(reason);
    perResource.set(r, (perResource.get(r) ?? 0) + n);
  }
  const ranked = [...perResource.entries()].sort((a, b) => (a[0] === 'nodes' ? 1 : 0) - (b[0] === 'nodes' ? 1 : 0) || b[1] - a[1] || a[0].localeCompare(b[0]));
  return ranked[0]?.[0] ?? 'nodes';
}
