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
  // Cordoned also stands for "draining": the store has one flag that keeps new instances off.
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
  // Anti-affinity group -> its members on this node. Absent: none.
  antiAffinityGroups?: Map<string, number>;
  // Caches the snapshot keeps when ports change, so a placement never scans the port range:
  // the lowest free port (null: none). Absent: computed on demand.
  freePort?: number | null;
  // Stable tie-break hash of the name. Absent: computed on demand.
  tieHash?: number;
}

// A label constraint: `zone=a`, `rack!=r3`, `zone in (a,b)`, `zone notin (a,b)`. Soft ones are
// preferences: honoured while some node satisfies them, dropped when none does.
export interface Constraint {
  key: string;
  op: 'in' | 'notin';
  values: string[];
  soft: boolean;
  // As written, for reasons and plan output.
  text: string;
}

export interface PlacementRequest {
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
  // Pin to one node.
  node?: string;
  constraints?: Constraint[];
  // Anti-affinity group: members never share a host. (The wire keeps the old name `cluster` too.)
  antiAffinityGroup?: string;
  // Also keep members on distinct values of this label (rack, zone); soft prefers, hard requires.
  spreadOver?: { key: string; soft: boolean };
}

export interface StrategyWeights {
  cpu: number;
  memory: number;
  disk: number;
}

export interface SchedulerConfig {
  // A node whose last heartbeat is older than this is not ready.
  nodeTimeoutMs: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
  // 0: no limit.
  maxInstancesPerNode: number;
  // Default strategy name; a request may name another.
  strategy: string;
  weights: StrategyWeights;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  nodeTimeoutMs: 15_000,
  cpuOvercommit: 1,
  memoryOvercommit: 1,
  maxInstancesPerNode: 0,
  strategy: 'spread',
  weights: { cpu: 1, memory: 1, disk: 1 },
};

export interface FilterContext {
  now: number;
  config: SchedulerConfig;
  // Values of the request's spreadOver label already holding a member of its anti-affinity
  // group; the scheduler computes it once per request.
  occupiedDomains?: Set<string>;
  // Soft constraints and soft spreading are enforced only while this is false.
  relaxSoft?: boolean;
}

// Bits of FleetColumns.flags.
export const NODE_CORDONED = 1;
export const NODE_HAS_PORT = 2;

// The fleet in struct-of-arrays form (fleet-index.ts keeps it in step with the NodeSnapshots):
// what the columnar forms of the filters and strategies read, one slot per node position.
export interface FleetColumns {
  readonly length: number;
  readonly nodes: readonly NodeSnapshot[];
  readonly cpuCap: Float64Array;
  readonly cpuAlloc: Float64Array;
  readonly memCap: Float64Array;
  readonly memAlloc: Float64Array;
  readonly heartbeat: Float64Array;
  // The most one of the node's disks can take: max over disks of min(unreserved, real free).
  readonly diskMaxFit: Float64Array;
  // All the node's disks together.
  readonly diskTotal: Float64Array;
  readonly diskAlloc: Float64Array;
  readonly count: Int32Array;
  readonly tieHash: Uint32Array;
  // NODE_CORDONED | NODE_HAS_PORT
  readonly flags: Uint8Array;
  // Anti-affinity group -> positions of the nodes holding a member.
  readonly groups: ReadonlyMap<string, ReadonlySet<number>>;
  indexOf(name: string): number | undefined;
  // 1 where the node satisfies the constraint (soft or not).
  mask(c: Constraint): Uint8Array;
  // Each node's value of one label (undefined where it has none).
  column(key: string): readonly (string | undefined)[];
}

// A filter answers undefined (the node passes) or a short reason. Reasons are worded so the
// same reason from many nodes reads well once counted: "3 insufficient memory".
//
// Each filter has two forms of one rule, side by side in its file: `filter` per node (the
// readable definition, plan() and the reasons of a refusal) and `columns` over the whole fleet
// in struct-of-arrays form (every create's scan, scan.ts). scan.test.ts requires the two to
// agree on random fleets for every filter in DEFAULT_FILTERS.
export interface Filter {
  name: string;
  filter(node: NodeSnapshot, req: PlacementRequest, ctx: FilterContext): string | undefined;
  // Clears pass[i] for every node position i that `filter` refuses; leaves the others as they are.
  columns(fleet: FleetColumns, req: PlacementRequest, ctx: FilterContext, pass: Uint8Array): void;
  // False when the filter passes every node for this request (no constraints asked, no limit
  // configured): the scheduler then leaves it out of the per-node loop.
  applies?(req: PlacementRequest, config: SchedulerConfig): boolean;
}

// Higher is better. Scores compare nodes for one request; they mean nothing across requests.
// Like a filter, a strategy has its per-node and its columnar form side by side, checked
// against each other by scan.test.ts: the same arithmetic in the same order, so that both rank
// nodes alike to the last bit.
export interface Strategy {
  name: string;
  score(node: NodeSnapshot, req: PlacementRequest, config: SchedulerConfig): number;
  // score() of every node position i with pass[i] = 1, written to scores[i].
  scores(fleet: FleetColumns, req: PlacementRequest, config: SchedulerConfig, pass: Uint8Array, scores: Float64Array): void;
  // Which of the node's fitting disks to use (never empty).
  pickDisk(disks: DiskSnapshot[], req: PlacementRequest, config: SchedulerConfig): DiskSnapshot;
}

export interface Placement {
  node: string;
  host: string;
  diskPath: string;
  port: number;
  score: number;
}

export type ScheduleResult =
  | { ok: true; placement: Placement; relaxedSoft: boolean }
  | { ok: false; total: number; reasons: Map<string, number> };

// One node's answer in a dry run: the first failing filter, or its score.
export interface Verdict {
  node: string;
  filter?: string;
  reason?: string;
  score?: number;
}
