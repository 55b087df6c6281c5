import type { Filter, NodeSnapshot } from '../types';

// The snapshot caches the answer whenever a node's ports change; hand-built snapshots scan. The
// cache is checked against usedPorts (one lookup), so code that places on a copy of a snapshot
// by adding to usedPorts alone (capacity's fit) still gets a free port, never a taken one.
export function firstFreePort(node: NodeSnapshot): number | undefined {
  const cached = node.freePort;
  if (cached === undefined) return scanFreePort(node.portMin, node.portMax, node.usedPorts);
  if (cached === null) return undefined;
  return node.usedPorts.has(cached) ? scanFreePort(cached + 1, node.portMax, node.usedPorts) : cached;
}

export function scanFreePort(min: number, max: number, used: Set<number>): number | undefined {
  for (let p = min; p <= max; p++) if (!used.has(p)) return p;
  return undefined;
}

export const port: Filter = {
  name: 'port',
  filter: (node) => (firstFreePort(node) === undefined ? 'no free port' : undefined),
};
