import type { Filter } from '../types';

export const pinned: Filter = {
  name: 'pinned',
  applies: (req) => !!req.node,
  filter: (node, req) => (req.node && req.node !== node.name ? 'not the requested node' : undefined),
};
