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
  // The ids each node reported last: a heartbeat replaces its own node's entries without a walk
  // over the whole fleet's (10,000 nodes heartbeating make that walk the manager's main cost).
  private readonly byNode = new Map<string, Set<string>>();

  // Replaces everything known about the node's instances with this report.
  report(node: string, instances: ReportedUsage[], now = Date.now()): void {
    const ids = new Set<string>();
    for (const i of instances) {
      if (!i.usageMeasuredAtMs) continue; // nothing measured yet
      ids.add(i.id);
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
    for (const id of this.byNode.get(node) ?? []) if (!ids.has(id) && this.byId.get(id)?.node === node) this.byId.delete(id);
    this.byNode.set(node, ids);
  }

  get(id: string): InstanceUsage | undefined {
    return this.byId.get(id);
  }

  set(id: string, u: InstanceUsage): void {
    this.byId.set(id, u);
    let ids = this.byNode.get(u.node);
    if (!ids) this.byNode.set(u.node, (ids = new Set()));
    ids.add(id);
  }

  entries(): IterableIterator<[string, InstanceUsage]> {
    return this.byId.entries();
  }
}
