import type { UsageMap } from '../state/usage';
import { heartbeatFresh } from '../scheduler/liveness';
import type { NodeSnapshot, SchedulerConfig } from '../scheduler/types';
import type { InstanceRow } from '../store/instances';

// CPU in millicores, memory and disk in bytes.
export interface ResourceFigures {
  capacity: number;
  // Reserved by instances placed here (what the scheduler counts).
  allocated: number;
  // Measured by the agents: instances' memory/CPU, and for disks the filesystem's used space.
  used: number;
  // What the scheduler could still hand out: capacity × overcommit − allocated (for disk, also no
  // more than the filesystem's real free space). In groups, only nodes that take new instances count.
  free: number;
  // allocated / capacity, in percent; above 100 only with overcommit.
  allocationPct: number;
  overcommit: number;
}

export interface DiskCapacity {
  path: string;
  totalBytes: number;
  allocatedBytes: number;
  // Filesystem used space (statfs), whatever wrote it.
  usedBytes: number;
  // Sum of berth instances' measured directory sizes on this disk.
  instancesUsedBytes: number;
  freeBytes: number;
  // What the scheduler can still place here: min(total − allocated, filesystem free).
  allocatableBytes: number;
  allocationPct: number;
  freePct: number;
}

export interface NodeCounts {
  total: number;
  ready: number;
  down: number;
  cordoned: number;
}

export interface GroupCapacity {
  cpu: ResourceFigures;
  memory: ResourceFigures;
  disk: ResourceFigures;
  instances: { total: number; byState: Record<string, number> };
  nodes: NodeCounts;
}

export interface NodeCapacity extends GroupCapacity {
  name: string;
  host: string;
  zone: string;
  rack: string;
  labels: Record<string, string>;
  state: 'ready' | 'down';
  cordoned: boolean;
  schedulable: boolean;
  lastHeartbeatMs: number;
  disks: DiskCapacity[];
}

export interface CapacityReport {
  at: string;
  fleet: GroupCapacity;
  zones: (GroupCapacity & { zone: string })[];
  racks: (GroupCapacity & { zone: string; rack: string })[];
  nodes: NodeCapacity[];
}

export const NO_LABEL = '-';

const pct = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 10000) / 100 : 0);

function figures(capacity: number, allocated: number, used: number, free: number, overcommit: number): ResourceFigures {
  return { capacity, allocated, used, free, allocationPct: pct(allocated, capacity), overcommit };
}

// Pure: the scheduler's snapshot, the store's instances and the agents' measurements in, the
// numbers the planners read out. Allocated comes from the snapshot (the sum over instances, as
// the scheduler sees it), used from the measurements.
export function computeCapacity(nodes: Iterable<NodeSnapshot>, instances: InstanceRow[], usage: UsageMap, cfg: SchedulerConfig, now: number): CapacityReport {
  const byNode = new Map<string, InstanceRow[]>();
  for (const i of instances) byNode.set(i.node, [...(byNode.get(i.node) ?? []), i]);
  const out = [...nodes].map((n) => nodeCapacity(n, byNode.get(n.name) ?? [], usage, cfg, now));
  out.sort((a, b) => a.name.localeCompare(b.name));
  return {
    at: new Date(now).toISOString(),
    fleet: aggregate(out, cfg),
    zones: groupBy(out, (n) => n.zone).map(([zone, ns]) => ({ zone, ...aggregate(ns, cfg) })),
    racks: groupBy(out, (n) => `${n.zone}\u0000${n.rack}`).map(([, ns]) => ({ zone: ns[0]!.zone, rack: ns[0]!.rack, ...aggregate(ns, cfg) })),
    nodes: out,
  };
}

function nodeCapacity(n: NodeSnapshot, mine: InstanceRow[], usage: UsageMap, cfg: SchedulerConfig, now: number): NodeCapacity {
  const down = !heartbeatFresh(n.lastHeartbeatMs, now, cfg);
  const used = measuredUse(mine, usage);
  const disks = n.disks.map((d) => diskCapacity(d, used.onDisk.get(d.path) ?? 0));
  const sum = (f: (d: DiskCapacity) => number) => disks.reduce((s, d) => s + f(d), 0);
  return {
    name: n.name,
    host: n.host,
    zone: n.labels.zone ?? NO_LABEL,
    rack: n.labels.rack ?? NO_LABEL,
    labels: n.labels,
    state: down ? 'down' : 'ready',
    cordoned: n.cordoned,
    schedulable: !down && !n.cordoned,
    lastHeartbeatMs: n.lastHeartbeatMs,
    cpu: figures(n.capacity.cpuMillis, n.allocated.cpuMillis, used.cpu, Math.max(0, n.capacity.cpuMillis * cfg.cpuOvercommit - n.allocated.cpuMillis), cfg.cpuOvercommit),
    memory: figures(n.capacity.memoryBytes, n.allocated.memoryBytes, used.memory, Math.max(0, n.capacity.memoryBytes * cfg.memoryOvercommit - n.allocated.memoryBytes), cfg.memoryOvercommit),
    disk: figures(sum((d) => d.totalBytes), sum((d) => d.allocatedBytes), sum((d) => d.usedBytes), sum((d) => d.allocatableBytes), 1),
    instances: { total: mine.length, byState: used.byState },
    nodes: { total: 1, ready: down ? 0 : 1, down: down ? 1 : 0, cordoned: n.cordoned ? 1 : 0 },
    disks,
  };
}

// What a node's instances use as their agents last measured it, and how many are in each state.
function measuredUse(mine: InstanceRow[], usage: UsageMap): { cpu: number; memory: number; onDisk: Map<string, number>; byState: Record<string, number> } {
  const used = { cpu: 0, memory: 0, onDisk: new Map<string, number>(), byState: {} as Record<string, number> };
  for (const i of mine) {
    used.byState[i.state] = (used.byState[i.state] ?? 0) + 1;
    const u = usage.get(i.id);
    if (!u) continue;
    used.cpu += u.usedCpuMillis;
    used.memory += u.usedMemoryBytes;
    used.onDisk.set(i.diskPath, (used.onDisk.get(i.diskPath) ?? 0) + u.usedDiskBytes);
  }
  return used;
}

function diskCapacity(d: NodeSnapshot['disks'][number], instancesUsedBytes: number): DiskCapacity {
  return {
    path: d.path,
    totalBytes: d.totalBytes,
    allocatedBytes: d.allocatedBytes,
    usedBytes: d.totalBytes - d.freeBytes,
    instancesUsedBytes,
    freeBytes: d.freeBytes,
    allocatableBytes: Math.max(0, Math.min(d.totalBytes - d.allocatedBytes, d.freeBytes)),
    allocationPct: pct(d.allocatedBytes, d.totalBytes),
    freePct: pct(d.freeBytes, d.totalBytes),
  };
}

function groupBy(nodes: NodeCapacity[], key: (n: NodeCapacity) => string): [string, NodeCapacity[]][] {
  const m = new Map<string, NodeCapacity[]>();
  for (const n of nodes) m.set(key(n), [...(m.get(key(n)) ?? []), n]);
  return [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));
}

export function aggregate(nodes: NodeCapacity[], cfg: SchedulerConfig): GroupCapacity {
  const res = (pick: (n: NodeCapacity) => ResourceFigures, overcommit: number): ResourceFigures => {
    let capacity = 0;
    let allocated = 0;
    let used = 0;
    let free = 0;
    for (const n of nodes) {
      const r = pick(n);
      capacity += r.capacity;
      allocated += r.allocated;
      used += r.used;
      if (n.schedulable) free += r.free;
    }
    return figures(capacity, allocated, used, free, overcommit);
  };
  const byState: Record<string, number> = {};
  for (const n of nodes) for (const [s, c] of Object.entries(n.instances.byState)) byState[s] = (byState[s] ?? 0) + c;
  return {
    cpu: res((n) => n.cpu, cfg.cpuOvercommit),
    memory: res((n) => n.memory, cfg.memoryOvercommit),
    disk: res((n) => n.disk, 1),
    instances: { total: nodes.reduce((s, n) => s + n.instances.total, 0), byState },
    nodes: {
      total: nodes.length,
      ready: nodes.filter((n) => n.state === 'ready').length,
      down: nodes.filter((n) => n.state === 'down').length,
      cordoned: nodes.filter((n) => n.cordoned).length,
    },
  };
}
