// The scheduler works on this snapshot, never on the live store or engine: a plain value that
// pure filters and strategies read, and that tests build by hand.
export interface DiskSnapshot {
  path: string;
  totalBytes: number;
  // Measured by the agent at its last heartbeat.
  freeBytes: number;
  // Sum of the disk reservations of the instances placed on it.
  allocatedBytes: number;
}

export interface NodeSnapshot {
  name: string;
  host: string;
  labels: Record<string, string>;
  cordoned: boolean;
  lastHeartbeatMs: number;
  capacity: { cpuMillis: number; memoryBytes: number };
  allocated: { cpuMillis: number; memoryBytes: number };
  disks: DiskSnapshot[];
  portMin: number;
  portMax: number;
  // Ports of berth instances plus ports something else on the host listens on.
  usedPorts: Set<number>;
  instanceCount: number;
}

export interface PlacementRequest {
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
  // Pin to one node.
  node?: string;
}

export interface SchedulerConfig {
  // A node whose last heartbeat is older than this is not ready.
  nodeTimeoutMs: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = { nodeTimeoutMs: 15_000, cpuOvercommit: 1, memoryOvercommit: 1 };

export interface FilterContext {
  now: number;
  config: SchedulerConfig;
}

// A filter answers undefined (the node passes) or a short reason. Reasons are worded so the
// same reason from many nodes reads well once counted: "3 insufficient memory".
export interface Filter {
  name: string;
  filter(node: NodeSnapshot, req: PlacementRequest, ctx: FilterContext): string | undefined;
}

// Higher is better. Scores compare nodes for one request; they mean nothing across requests.
export interface Strategy {
  name: string;
  score(node: NodeSnapshot, req: PlacementRequest): number;
  // Which of the node's fitting disks to use.
  pickDisk(disks: DiskSnapshot[], req: PlacementRequest): DiskSnapshot;
}

export interface Placement {
  node: string;
  host: string;
  diskPath: string;
  port: number;
  score: number;
}

export type ScheduleResult =
  | { ok: true; placement: Placement }
  | { ok: false; total: number; reasons: Map<string, number> };
