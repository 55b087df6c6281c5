// What the agents measured about each instance at their last heartbeat. Kept in memory only:
// it is refreshed every few seconds and means nothing after a restart.
export interface InstanceUsage {
  node: string;
  usedDiskBytes: number;
  usedMemoryBytes: number;
  usedCpuMillis: number;
  mysqldUnresponsive: boolean;
  // When the agent measured it (0: never); receivedAtMs: when the manager heard it.
  measuredAtMs: number;
  receivedAtMs: number;
}

export interface ReportedUsage {
  id: string;
  usedDiskBytes?: number;
  usedMemoryBytes?: number;
  usedCpuMillis?: number;
  mysqldUnresponsive?: boolean;
  usageMeasuredAtMs?: number;
}

export class UsageMap {
  private readonly byId = new Map<string, InstanceUsage>();

  // Replaces everything known about the node's instances with this report.
  report(node: string, instances: ReportedUsage[], now = Date.now()): void {
    const ids = new Set(instances.map((i) => i.id));
    for (const [id, u] of this.byId) if (u.node === node && !ids.has(id)) this.byId.delete(id);
    for (const i of instances) {
      if (!i.usageMeasuredAtMs) continue; // nothing measured yet
      this.byId.set(i.id, {
        node,
        usedDiskBytes: Number(i.usedDiskBytes ?? 0),
        usedMemoryBytes: Number(i.usedMemoryBytes ?? 0),
        usedCpuMillis: Number(i.usedCpuMillis ?? 0),
        mysqldUnresponsive: Boolean(i.mysqldUnresponsive),
        measuredAtMs: Number(i.usageMeasuredAtMs),
        receivedAtMs: now,
      });
    }
  }

  get(id: string): InstanceUsage | undefined {
    return this.byId.get(id);
  }

  set(id: string, u: InstanceUsage): void {
    this.byId.set(id, u);
  }

  entries(): IterableIterator<[string, InstanceUsage]> {
    return this.byId.entries();
  }
}
