import { cloneNodes } from '../capacity/fit';
import { explain, schedule } from '../scheduler/schedule';
import { placeOnNode } from '../scheduler/snapshot';
import type { FilterContext, NodeSnapshot, Placement, PlacementRequest, Strategy } from '../scheduler/types';

export type MembersPlacement =
  | { ok: true; placements: Placement[]; relaxedSoft: boolean }
  | { ok: false; placed: number; message: string };

// Places `count` members of one cluster, one after another, each on the nodes as the ones before
// it left them (resources, ports, the anti-affinity group and its spread label), with the same
// filters and strategy as any create. Pure: works on copies, the caller reserves the answer in
// one fleet change. `req.antiAffinityGroup` is the cluster's anti-affinity group, so no two members share
// a host, and with spreadOver no two share a zone or rack (hard) or as few as possible (soft).
export function placeMembers(nodes: readonly NodeSnapshot[], req: PlacementRequest & { antiAffinityGroup: string }, count: number, ctx: FilterContext, strategy?: Strategy): MembersPlacement {
  const copies = cloneNodes(nodes);
  const byName = new Map(copies.map((n) => [n.name, n]));
  const placements: Placement[] = [];
  let relaxedSoft = false;
  for (let k = 0; k < count; k++) {
    const r = schedule(copies, req, ctx, { strategy });
    if (!r.ok) {
      const what = count === 1 ? 'the member' : `member ${k + 1} of ${count}`;
      return { ok: false, placed: k, message: `${k} of ${count} members can be placed on distinct hosts; ${what}: ${explain(r)}` };
    }
    relaxedSoft ||= r.relaxedSoft;
    placements.push(r.placement);
    placeOnNode(byName.get(r.placement.node)!, { ...req, diskPath: r.placement.diskPath, port: r.placement.port });
  }
  return { ok: true, placements, relaxedSoft };
}
