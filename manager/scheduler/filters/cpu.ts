import type { Filter } from '../types';

export const cpu: Filter = {
  name: 'cpu',
  filter(node, req, { config }) {
    const limit = node.capacity.cpuMillis * config.cpuOvercommit;
    return node.allocated.cpuMillis + req.cpuMillis > limit ? 'insufficient cpu' : undefined;
  },
};
