import type { Filter, NodeSnapshot } from '../types';

// The snapshot caches the answer whenever a node's ports change; hand-built snapshots scan.
export function firstFreePort(node: NodeSnapshot): number | undefined {
  if (node.freePort !== undefined) return node.freePort ?? undefined;
  return scanFreePort(node.portMin, node.portMax, node.usedPorts);
}

export function scanFreePort(min: number, max: number, used: Set<number>): number | undefined {
  for (let p = min; p <= max; p++) if (!used.has(p)) return p;
  return undefined;
}

export const port: Filter = {
  name: 'port',
  filter: (node) => (firstFreePort(node) === undefined ? 'no free port' : undefined),
};
