import type { Filter } from '../types';

export const memory: Filter = {
  name: 'memory',
  filter(node, req, { config }) {
    const limit = node.capacity.memoryBytes * config.memoryOvercommit;
    return node.allocated.memoryBytes + req.memoryBytes > limit ? 'insufficient memory' : undefined;
  },
  columns(fleet, req, { config }, pass) {
    const { memAlloc, memCap } = fleet;
    const over = config.memoryOvercommit;
    const rm = req.memoryBytes;
    for (let i = 0, n = fleet.length; i < n; i++) if (memAlloc[i]! + rm > memCap[i]! * over) pass[i] = 0;
  },
};
