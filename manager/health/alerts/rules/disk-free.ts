import { formatSize } from '../../../../src/units';
import { nodeIsDown, type AlertRule, type Firing } from '../types';

// Measured free space of each data disk of a live node (a down node's figures are stale).
export const diskFree: AlertRule = {
  name: 'disk_free_low',
  evaluate(s) {
    const out: Firing[] = [];
    for (const n of s.nodes) {
      if (nodeIsDown(n, s)) continue;
      for (const d of n.disks) {
        if (d.totalBytes <= 0) continue;
        const freePct = (d.freeBytes / d.totalBytes) * 100;
        if (freePct < s.thresholds.diskFreePct) {
          out.push({
            rule: 'disk_free_low',
            subject: `${n.name}:${d.path}`,
            severity: 'warning',
            message: `data disk ${d.path} on ${n.name} has ${formatSize(d.freeBytes)} free of ${formatSize(d.totalBytes)} (${freePct.toFixed(1)}% < ${s.thresholds.diskFreePct}%)`,
          });
        }
      }
    }
    return out;
  },
};
