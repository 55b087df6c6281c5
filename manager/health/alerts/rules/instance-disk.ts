import { formatSize } from '../../../../src/units';
import type { AlertRule, Firing } from '../types';

// An instance's measured directory size against its disk reservation: the kernel has no quotas
// here, so this is how an instance outgrowing its shape is noticed.
export const instanceDisk: AlertRule = {
  name: 'instance_disk_high',
  evaluate(s) {
    const out: Firing[] = [];
    for (const i of s.instances) {
      const u = s.usage.get(i.id);
      if (!u || i.diskBytes <= 0) continue;
      const pct = (u.usedDiskBytes / i.diskBytes) * 100;
      if (pct > s.thresholds.instanceDiskPct) {
        out.push({
          rule: 'instance_disk_high',
          subject: i.id,
          severity: 'warning',
          message: `instance ${i.name} on ${i.node} uses ${formatSize(u.usedDiskBytes)} of its ${formatSize(i.diskBytes)} disk reservation (${pct.toFixed(1)}% > ${s.thresholds.instanceDiskPct}%)`,
        });
      }
    }
    return out;
  },
};
