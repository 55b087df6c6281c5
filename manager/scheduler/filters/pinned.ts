import type { Filter } from '../types';

export const pinned: Filter = {
  name: 'pinned',
  filter: (node, req) => (req.node && req.node !== node.name ? 'not the requested node' : undefined),
};
