import type { Filter } from '../types';

const reasons = new Map<string, { missing: string; taken: string }>();
function reasonsFor(key: string) {
  let r = reasons.get(key);
  if (!r) reasons.set(key, (r = { missing: `no ${key} label`, taken: `cluster member already in ${key}` }));
  return r;
}

// Spreading an anti-affinity group over racks or zones: a node whose rack already holds a member
// fails. The scheduler computes the occupied racks once per request (ctx.occupiedDomains).
export const topology: Filter = {
  name: 'topology',
  applies: (req) => !!(req.antiAffinityGroup && req.spreadOver),
  filter(node, req, ctx) {
    const s = req.spreadOver;
    if (!s || !req.antiAffinityGroup || (s.soft && ctx.relaxSoft)) return undefined;
    const v = node.labels[s.key];
    if (v === undefined) return reasonsFor(s.key).missing;
    return ctx.occupiedDomains?.has(v) ? reasonsFor(s.key).taken : undefined;
  },
  // The occupied values come from the group index (the positions holding a member), not from
  // ctx.occupiedDomains, which only the per-node pass computes.
  columns(fleet, req, ctx, pass) {
    const s = req.spreadOver;
    if (!s || !req.antiAffinityGroup || (s.soft && ctx.relaxSoft)) return;
    const col = fleet.column(s.key);
    const occupied = new Set<string>();
    for (const i of fleet.groups.get(req.antiAffinityGroup) ?? []) {
      const v = col[i];
      if (v !== undefined) occupied.add(v);
    }
    for (let i = 0, n = fleet.length; i < n; i++) {
      const v = col[i];
      if (v === undefined || occupied.has(v)) pass[i] = 0;
    }
  },
};
