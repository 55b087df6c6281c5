import type { Filter } from '../types';

export const memory: Filter = {
  name: 'memory',
  filter(node, req, { config }) {
    const limit = node.capacity.memoryBytes * config.memoryOvercommit;
    return node.allocated.memoryBytes + req.memoryBytes > limit ? 'insufficient memory' : undefined;
  },
};
