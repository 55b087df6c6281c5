import { formatCpu, formatSize } from '../../../../src/units';
import type { AlertRule } from '../types';

// A zone (or the fleet) whose most common shapes run out within capacityRunwayDays at the
// recent growth of its allocation (capacity/forecast.ts): time to add hosts. Critical under a
// quarter of it.
export const capacityRunway: AlertRule = {
  name: 'capacity_runway_low',
  evaluate: (s) => {
    const limit = s.thresholds.capacityRunwayDays ?? 0;
    if (!limit) return [];
    return (s.capacityRunway ?? []).flatMap((f) =>
      f.shapes
        .filter((r) => r.days !== null && r.days < limit)
        .map((r) => {
          const shape = `${formatCpu(r.shape.cpuMillis)} cpu/${formatSize(r.shape.memoryBytes)}/${formatSize(r.shape.diskBytes)}`;
          const where = f.scope === 'fleet' ? 'the fleet' : `zone ${f.name}`;
          return {
            rule: 'capacity_runway_low',
            subject: `${f.scope === 'fleet' ? 'fleet' : `zone:${f.name}`} ${shape}`,
            severity: r.days! < limit / 4 ? ('critical' as const) : ('warning' as const),
            message: `${where}: ${r.fitsNow} more ${shape} instances fit now (${r.limitedBy} runs out first); at the growth of the last ${f.windowDays} days (${r.perDay} of them a day) the first is refused in ${r.days} days${r.low !== null ? ` (between ${r.low} and ${r.high ?? 'never'})` : ''}: add hosts to ${where}`,
          };
        }),
    );
  },
};
