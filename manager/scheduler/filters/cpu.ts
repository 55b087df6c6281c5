import type { Filter } from '../types';

export const cpu: Filter = {
  name: 'cpu',
  filter(node, req, { config }) {
    const limit = node.capacity.cpuMillis * config.cpuOvercommit;
    return node.allocated.cpuMillis + req.cpuMillis > limit ? 'insufficient cpu' : undefined;
  },
  columns(fleet, req, { config }, pass) {
    const { cpuAlloc, cpuCap } = fleet;
    const over = config.cpuOvercommit;
    const rc = req.cpuMillis;
    for (let i = 0, n = fleet.length; i < n; i++) if (cpuAlloc[i]! + rc > cpuCap[i]! * over) pass[i] = 0;
  },
};
