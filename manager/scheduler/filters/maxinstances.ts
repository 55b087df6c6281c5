import type { Filter } from '../types';

// A cap on instances per host, whatever their size: bounds the blast radius of one host and
// the number of mysqld processes competing for its page cache.
export const maxInstances: Filter = {
  name: 'max-instances',
  applies: (_req, config) => config.maxInstancesPerNode > 0,
  filter: (node, _req, { config }) =>
    config.maxInstancesPerNode > 0 && node.instanceCount >= config.maxInstancesPerNode ? 'node at its instance limit' : undefined,
  columns(fleet, _req, { config }, pass) {
    const max = config.maxInstancesPerNode;
    if (!(max > 0)) return;
    const count = fleet.count;
    for (let i = 0, n = fleet.length; i < n; i++) if (count[i]! >= max) pass[i] = 0;
  },
};
