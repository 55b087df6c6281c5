import type { Filter } from '../types';

// Two members of one cluster on one host would fail together: never, not even as a fallback.
export const affinity: Filter = {
  name: 'anti-affinity',
  applies: (req) => !!req.cluster,
  filter: (node, req) => (req.cluster && node.clusters?.get(req.cluster) ? 'cluster member already on host' : undefined),
};
