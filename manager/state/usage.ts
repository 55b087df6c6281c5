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
  // The shape the agent runs the instance with, to judge at report time whether it is worth a
  // look by the periodic scans (see `notable`).
  resources?: { memoryBytes?: number; diskBytes?: number } | null;
}

// The share of its disk or memory an instance must use before the periodic whole-fleet scans
// (alert rules, automatic expansion) look at it. The scans decide on the store's reservation;
// the cut-off is judged on the shape the agent reports, which a resize may not have reached
// yet: half the lowest threshold keeps every instance a scan could act on in the set.
export interface UsageWatch {
  diskPct: number;
  memoryPct: number;
}

export const DEFAULT_WATCH: UsageWatch = { diskPct: 40, memoryPct: 45 };

export class UsageMap {
  private readonly byId = new Map<string, InstanceUsage>();
  // The ids each node reported last: a heartbeat replaces its own node's entries without a walk
  // over the whole fleet's (10,000 nodes heartbeating make that walk the manager's main cost).
  private readonly byNode = new Map<string, Set<string>>();
  // Instances over the watch cut-off or with mysqld not answering, kept up to date at each
  // report, so a scan visits these few rather than every instance of the fleet.
  private readonly notableIds = new Set<string>();

  constructor(private readonly watch: UsageWatch = DEFAULT_WATCH) {}

  // Replaces everything known about the node's instances with this report. Entries are updated
  // in place: a heartbeat of 17 instances every 5 s from 10,000 nodes allocates nothing here.
  report(node: string, instances: ReportedUsage[], now = Date.now()): void {
    const prev = this.byNode.get(node);
    const ids = new Set<string>();
    for (const i of instances) {
      const measuredAtMs = Number(i.usageMeasuredAtMs ?? 0);
      if (!measuredAtMs) continue; // nothing measured yet
      ids.add(i.id);
      let u = this.byId.get(i.id);
      if (!u) this.byId.set(i.id, (u = { node, usedDiskBytes: 0, usedMemoryBytes: 0, usedCpuMillis: 0, mysqldUnresponsive: false, measuredAtMs: 0, receivedAtMs: 0 }));
      u.node = node;
      u.usedDiskBytes = Number(i.usedDiskBytes ?? 0);
      u.usedMemoryBytes = Number(i.usedMemoryBytes ?? 0);
      u.usedCpuMillis = Number(i.usedCpuMillis ?? 0);
      u.mysqldUnresponsive = Boolean(i.mysqldUnresponsive);
      u.measuredAtMs = measuredAtMs;
      u.receivedAtMs = now;
      if (this.isNotable(u, i.resources)) this.notableIds.add(i.id);
      else this.notableIds.delete(i.id);
    }
    if (prev) for (const id of prev) if (!ids.has(id) && this.byId.get(id)?.node === node) this.drop(id);
    this.byNode.set(node, ids);
  }

  get(id: string): InstanceUsage | undefined {
    return this.byId.get(id);
  }

  set(id: string, u: InstanceUsage): void {
    this.byId.set(id, u);
    this.notableIds.add(id);
    let ids = this.byNode.get(u.node);
    if (!ids) this.byNode.set(u.node, (ids = new Set()));
    ids.add(id);
  }

  entries(): IterableIterator<[string, InstanceUsage]> {
    return this.byId.entries();
  }

  // Instances a periodic scan must look at: using more than the watch share of their disk or
  // memory, mysqld not answering, or reported without a shape to judge by. The rest cannot
  // trip an alert or an expansion.
  notable(): ReadonlySet<string> {
    return this.notableIds;
  }

  // The ids the node reported at its last heartbeat.
  onNode(node: string): ReadonlySet<string> {
    return this.byNode.get(node) ?? EMPTY;
  }

  private isNotable(u: InstanceUsage, r: ReportedUsage['resources']): boolean {
    if (u.mysqldUnresponsive) return true;
    const disk = Number(r?.diskBytes ?? 0);
    const memory = Number(r?.memoryBytes ?? 0);
    if (disk <= 0 || memory <= 0) return true;
    return u.usedDiskBytes * 100 > disk * this.watch.diskPct || u.usedMemoryBytes * 100 > memory * this.watch.memoryPct;
  }

  private drop(id: string): void {
    this.byId.delete(id);
    this.notableIds.delete(id);
  }
}

const EMPTY: ReadonlySet<string> = new Set();
