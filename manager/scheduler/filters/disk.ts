import { formatSize } from '../../../src/units';
import type { DiskSnapshot, Filter, PlacementRequest } from '../types';

// A disk fits when both its unreserved space and its real free space hold the request: the
// first keeps promises made to other instances, the second catches disks filled by anything
// berth does not account for.
export function fittingDisks(disks: DiskSnapshot[], req: PlacementRequest): DiskSnapshot[] {
  return disks.filter((d) => d.totalBytes - d.allocatedBytes >= req.diskBytes && d.freeBytes >= req.diskBytes);
}

export const disk: Filter = {
  name: 'disk',
  filter: (node, req) => (fittingDisks(node.disks, req).length === 0 ? `no data disk with ${formatSize(req.diskBytes)} free` : undefined),
};
