import type { DiskSnapshot, FleetColumns, NodeSnapshot, PlacementRequest, StrategyWeights } from '../types';

// Shares of each resource the node would have allocated once the request is placed, 0..1+.
// Disk counts all the node's data disks together.
export function cpuShare(n: NodeSnapshot, r: PlacementRequest): number {
  return (n.allocated.cpuMillis + r.cpuMillis) / n.capacity.cpuMillis;
}

export function memoryShare(n: NodeSnapshot, r: PlacementRequest): number {
  return (n.allocated.memoryBytes + r.memoryBytes) / n.capacity.memoryBytes;
}

export function diskShare(n: NodeSnapshot, r: PlacementRequest): number {
  let total = 0;
  let alloc = r.diskBytes;
  for (const d of n.disks) {
    total += d.totalBytes;
    alloc += d.allocatedBytes;
  }
  return total > 0 ? alloc / total : 1;
}

// Weighted mean of the shares, in percent. Zero weights skip the resource's arithmetic.
export function weightedShare(n: NodeSnapshot, r: PlacementRequest, w: StrategyWeights): number {
  let sum = 0;
  let wsum = 0;
  if (w.cpu) (sum += w.cpu * cpuShare(n, r)), (wsum += Math.abs(w.cpu));
  if (w.memory) (sum += w.memory * memoryShare(n, r)), (wsum += Math.abs(w.memory));
  if (w.disk) (sum += w.disk * diskShare(n, r)), (wsum += Math.abs(w.disk));
  return wsum ? (sum / wsum) * 100 : 0;
}

export const unreserved = (d: DiskSnapshot) => d.totalBytes - d.allocatedBytes;

// The same shares at node position i of the columnar fleet, with the same float operations in
// the same order (the index sums a node's disks as diskShare does; byte counts are integers, so
// the sums are exact whichever way they are grouped). They take the request's numbers, read
// once per scan by the caller: read per node from request objects of several shapes, they cost
// more than the arithmetic.
export function cpuShareAt(f: FleetColumns, i: number, cpuMillis: number): number {
  return (f.cpuAlloc[i]! + cpuMillis) / f.cpuCap[i]!;
}

export function memoryShareAt(f: FleetColumns, i: number, memoryBytes: number): number {
  return (f.memAlloc[i]! + memoryBytes) / f.memCap[i]!;
}

export function diskShareAt(f: FleetColumns, i: number, diskBytes: number): number {
  const total = f.diskTotal[i]!;
  return total > 0 ? (diskBytes + f.diskAlloc[i]!) / total : 1;
}

// weightedShare with the weights w = [cpu, memory, disk] and the request r = [cpu, memory, disk].
export function weightedShareAt(f: FleetColumns, i: number, rc: number, rm: number, rd: number, wc: number, wm: number, wd: number): number {
  let sum = 0;
  let wsum = 0;
  if (wc) (sum += wc * cpuShareAt(f, i, rc)), (wsum += Math.abs(wc));
  if (wm) (sum += wm * memoryShareAt(f, i, rm)), (wsum += Math.abs(wm));
  if (wd) (sum += wd * diskShareAt(f, i, rd)), (wsum += Math.abs(wd));
  return wsum ? (sum / wsum) * 100 : 0;
}
