import type { Filter } from '../types';

const reasons = new Map<string, { missing: string; taken: string }>();
function reasonsFor(key: string) {
  let r = reasons.get(key);
  if (!r) reasons.set(key, (r = { missing: `no ${key} label`, taken: `cluster member already in ${key}` }));
  return r;
}

// Spreading a cluster over racks or zones: a node whose rack already holds a member fails. The
// scheduler computes the occupied racks once per request (ctx.occupiedDomains).
export const topology: Filter = {
  name: 'topology',
  applies: (req) => !!(req.cluster && req.spreadOver),
  filter(node, req, ctx) {
    const s = req.spreadOver;
    if (!s || !req.cluster || (s.soft && ctx.relaxSoft)) return undefined;
    const v = node.labels[s.key];
    if (v === undefined) return reasonsFor(s.key).missing;
    return ctx.occupiedDomains?.has(v) ? reasonsFor(s.key).taken : undefined;
  },
};
