import type { DiskSnapshot, Strategy } from '../types';

// Least allocated after placement wins: the mean of the CPU and memory shares the node would
// have left, so one busy resource does not hide behind an idle one.
export const spread: Strategy = {
  name: 'spread',
  score(node, req) {
    const cpuLeft = 1 - (node.allocated.cpuMillis + req.cpuMillis) / node.capacity.cpuMillis;
    const memLeft = 1 - (node.allocated.memoryBytes + req.memoryBytes) / node.capacity.memoryBytes;
    return ((cpuLeft + memLeft) / 2) * 100;
  },
  pickDisk: (disks: DiskSnapshot[]) => disks.reduce((best, d) => (d.totalBytes - d.allocatedBytes > best.totalBytes - best.allocatedBytes ? d : best)),
};
