import type { Filter } from '../types';

export const pinned: Filter = {
  name: 'pinned',
  applies: (req) => !!req.node,
  filter: (node, req) => (req.node && req.node !== node.name ? 'not the requested node' : undefined),
  columns(fleet, req, _ctx, pass) {
    if (!req.node) return;
    const at = fleet.indexOf(req.node);
    const kept = at === undefined ? 0 : pass[at]!;
    pass.fill(0, 0, fleet.length);
    if (at !== undefined) pass[at] = kept;
  },
};
