import { satisfies } from '../constraints';
import type { Filter } from '../types';

// The request's label constraints; soft ones only until the scheduler relaxes them.
export const labels: Filter = {
  name: 'labels',
  applies: (req) => !!req.constraints?.length,
  filter(node, req, ctx) {
    const cs = req.constraints;
    if (!cs) return undefined;
    for (const c of cs) {
      if (c.soft && ctx.relaxSoft) continue;
      if (!satisfies(node.labels, c)) return `constraint ${c.text} not met`;
    }
    return undefined;
  },
  // One pass/fail byte per node and constraint, which the index computes with satisfies() and
  // keeps until some node's labels change.
  columns(fleet, req, ctx, pass) {
    const cs = req.constraints;
    if (!cs) return;
    for (const c of cs) {
      if (c.soft && ctx.relaxSoft) continue;
      const m = fleet.mask(c);
      for (let i = 0, n = fleet.length; i < n; i++) if (m[i] === 0) pass[i] = 0;
    }
  },
};
