import type { Filter, NodeSnapshot } from '../types';

export function firstFreePort(node: NodeSnapshot): number | undefined {
  for (let p = node.portMin; p <= node.portMax; p++) if (!node.usedPorts.has(p)) return p;
  return undefined;
}

export const port: Filter = {
  name: 'port',
  filter: (node) => (firstFreePort(node) === undefined ? 'no free port' : undefined),
};
