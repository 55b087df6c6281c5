import type { DB } from './db';

export type Resolution = '1m' | '1h';
export type Scope = 'fleet' | 'zone';

// One point of the capacity history: CPU in millicores, memory and disk in bytes.
export interface CapacitySample {
  at: string;
  scope: Scope;
  // The zone's name; '' for the fleet.
  name: string;
  cpu: { capacity: number; allocated: number; used: number };
  memory: { capacity: number; allocated: number; used: number };
  disk: { capacity: number; allocated: number; used: number };
  instances: number;
}

interface Raw {
  at: string;
  scope: Scope;
  name: string;
  cpu_capacity: number; cpu_allocated: number; cpu_used: number;
  memory_capacity: number; memory_allocated: number; memory_used: number;
  disk_capacity: number; disk_allocated: number; disk_used: number;
  instances: number;
}

const COLUMNS = 'at, scope, name, cpu_capacity, cpu_allocated, cpu_used, memory_capacity, memory_allocated, memory_used, disk_capacity, disk_allocated, disk_used, instances';

function fromRaw(r: Raw): CapacitySample {
  return {
    at: r.at, scope: r.scope, name: r.name, instances: r.instances,
    cpu: { capacity: r.cpu_capacity, allocated: r.cpu_allocated, used: r.cpu_used },
    memory: { capacity: r.memory_capacity, allocated: r.memory_allocated, used: r.memory_used },
    disk: { capacity: r.disk_capacity, allocated: r.disk_allocated, used: r.disk_used },
  };
}

// The capacity_history table: written a minute at a time, read by time range.
export class CapacityHistoryTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      put: db.prepare(`INSERT OR REPLACE INTO capacity_history (resolution, ${COLUMNS}) VALUES (@resolution, @at, @scope, @name, @cpu_capacity, @cpu_allocated, @cpu_used,
        @memory_capacity, @memory_allocated, @memory_used, @disk_capacity, @disk_allocated, @disk_used, @instances)`),
      range: db.prepare(`SELECT ${COLUMNS} FROM capacity_history WHERE resolution = ? AND scope = ? AND name = ? AND at >= ? AND at < ? ORDER BY at`),
      series: db.prepare(`SELECT DISTINCT scope, name FROM capacity_history WHERE resolution = ? ORDER BY scope, name`),
      latest: db.prepare(`SELECT MAX(at) AS at FROM capacity_history WHERE resolution = ?`),
      prune: db.prepare('DELETE FROM capacity_history WHERE resolution = ? AND at < ?'),
    };
    this.putMany = db.transaction((resolution: Resolution, samples: CapacitySample[]) => {
      for (const s of samples) this.q.put.run({ resolution, ...toRaw(s) });
    });
  }

  readonly putMany: (resolution: Resolution, samples: CapacitySample[]) => void;

  range(resolution: Resolution, scope: Scope, name: string, from: string, to: string): CapacitySample[] {
    return (this.q.range.all(resolution, scope, name, from, to) as Raw[]).map(fromRaw);
  }

  series(resolution: Resolution): { scope: Scope; name: string }[] {
    return this.q.series.all(resolution) as { scope: Scope; name: string }[];
  }

  latest(resolution: Resolution): string | undefined {
    return (this.q.latest.get(resolution) as { at: string | null }).at ?? undefined;
  }

  prune(resolution: Resolution, before: string): number {
    return this.q.prune.run(resolution, before).changes;
  }
}

function toRaw(s: CapacitySample): Raw {
  return {
    at: s.at, scope: s.scope, name: s.name, instances: s.instances,
    cpu_capacity: s.cpu.capacity, cpu_allocated: s.cpu.allocated, cpu_used: s.cpu.used,
    memory_capacity: s.memory.capacity, memory_allocated: s.memory.allocated, memory_used: s.memory.used,
    disk_capacity: s.disk.capacity, disk_allocated: s.disk.allocated, disk_used: s.disk.used,
  };
}
