import type { Filter } from '../types';

// Two members of one anti-affinity group on one host would fail together: never, not even as a fallback.
export const affinity: Filter = {
  name: 'anti-affinity',
  applies: (req) => !!req.antiAffinityGroup,
  filter: (node, req) => (req.antiAffinityGroup && node.antiAffinityGroups?.get(req.antiAffinityGroup) ? 'cluster member already on host' : undefined),
  // The group index lists the positions holding a member: only those are visited.
  columns(fleet, req, _ctx, pass) {
    const members = req.antiAffinityGroup ? fleet.groups.get(req.antiAffinityGroup) : undefined;
    if (members) for (const i of members) pass[i] = 0;
  },
};
