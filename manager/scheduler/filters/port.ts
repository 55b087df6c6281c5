import { NODE_HAS_PORT, type Filter, type NodeSnapshot } from '../types';

// The snapshot caches the answer whenever a node's ports change; hand-built snapshots scan. The
// cache is still checked against usedPorts (one lookup), so a snapshot whose ports were changed
// without going through placeOnNode hands out a free port, never a taken one.
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
  // The index sets NODE_HAS_PORT from firstFreePort() whenever the node changes.
  columns(fleet, _req, _ctx, pass) {
    const flags = fleet.flags;
    for (let i = 0, n = fleet.length; i < n; i++) if ((flags[i]! & NODE_HAS_PORT) === 0) pass[i] = 0;
  },
};
