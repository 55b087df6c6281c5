import { formatSize } from '../../../src/units';
import type { DiskSnapshot, Filter, PlacementRequest } from '../types';

// A disk fits when both its unreserved space and its real free space hold the request: the
// first keeps promises made to other instances, the second catches disks filled by anything
// berth does not account for.
export const diskFits = (d: DiskSnapshot, bytes: number) => d.totalBytes - d.allocatedBytes >= bytes && d.freeBytes >= bytes;

export function fittingDisks(disks: DiskSnapshot[], req: PlacementRequest): DiskSnapshot[] {
  return disks.filter((d) => diskFits(d, req.diskBytes));
}

// The same reason is produced for most nodes of a full fleet: format it once per size.
let lastBytes = -1;
let lastReason = '';
function reason(bytes: number): string {
  if (bytes !== lastBytes) {
    lastBytes = bytes;
    lastReason = `no data disk with ${formatSize(bytes)} free`;
  }
  return lastReason;
}

export const disk: Filter = {
  name: 'disk',
  filter(node, req) {
    // A loop rather than fittingDisks(): this runs for every node on every placement.
    const disks = node.disks;
    for (let i = 0; i < disks.length; i++) if (diskFits(disks[i]!, req.diskBytes)) return undefined;
    return reason(req.diskBytes);
  },
  // diskMaxFit is the most any one disk takes (max over disks of min(unreserved, free)): a disk
  // fits exactly when that is at least the request, one comparison per node.
  columns(fleet, req, _ctx, pass) {
    const fit = fleet.diskMaxFit;
    const rd = req.diskBytes;
    for (let i = 0, n = fleet.length; i < n; i++) if (fit[i]! < rd) pass[i] = 0;
  },
};
