import { satisfies } from './constraints';
import { firstFreePort } from './filters/port';
import { nameHash } from './schedule';
import { NODE_CORDONED, NODE_HAS_PORT, type Constraint, type FleetColumns, type NodeSnapshot } from './types';

// The fleet in struct-of-arrays form: one typed array per number the filters and the strategies
// read in their columnar forms, indexed by the node's position in the snapshot. The NodeSnapshot
// objects stay the one source of truth; the arrays are a cache the Snapshot refreshes for a node
// after every change to it, so the hot scan reads a few numbers per node from contiguous memory
// instead of chasing five objects.
export class FleetIndex implements FleetColumns {
  readonly nodes: NodeSnapshot[] = [];
  private readonly at = new Map<string, number>();
  private size = 0;
  cpuCap = new Float64Array(0);
  cpuAlloc = new Float64Array(0);
  memCap = new Float64Array(0);
  memAlloc = new Float64Array(0);
  heartbeat = new Float64Array(0);
  // Per node: the most any one of its disks can take (min of unreserved and real free space),
  // so "a disk with room" is one comparison; and all its disks' totals for the strategies.
  diskMaxFit = new Float64Array(0);
  diskTotal = new Float64Array(0);
  diskAlloc = new Float64Array(0);
  count = new Int32Array(0);
  tieHash = new Uint32Array(0);
  flags = new Uint8Array(0);
  // Anti-affinity group -> positions of the nodes holding a member.
  readonly groups = new Map<string, Set<number>>();
  private readonly nodeGroups: string[][] = [];
  // A pass/fail byte per node for each label constraint asked, computed once from the readable
  // definition (constraints.ts satisfies) and kept until some node's labels change.
  private readonly masks = new Map<string, Uint8Array>();
  private readonly columns = new Map<string, (string | undefined)[]>();
  // The scan's working space (scan.ts), kept so that a placement allocates nothing per node.
  readonly scratch = { pass: new Uint8Array(0), scores: new Float64Array(0) };

  get length(): number {
    return this.size;
  }

  indexOf(name: string): number | undefined {
    return this.at.get(name);
  }

  // A new node goes at the end; a re-registered one keeps its position (the Snapshot's order).
  upsert(node: NodeSnapshot): void {
    let i = this.at.get(node.name);
    if (i === undefined) {
      i = this.size++;
      this.at.set(node.name, i);
      this.grow(this.size);
      this.nodeGroups[i] = [];
    }
    this.nodes[i] = node;
    this.masks.clear();
    this.columns.clear();
    this.sync(node.name);
  }

  // Copies one node's numbers from its NodeSnapshot: O(its disks + its groups).
  sync(name: string): void {
    const i = this.at.get(name);
    if (i === undefined) return;
    const n = this.nodes[i]!;
    this.cpuCap[i] = n.capacity.cpuMillis;
    this.cpuAlloc[i] = n.allocated.cpuMillis;
    this.memCap[i] = n.capacity.memoryBytes;
    this.memAlloc[i] = n.allocated.memoryBytes;
    this.heartbeat[i] = n.lastHeartbeatMs;
    let maxFit = -Infinity;
    let total = 0;
    let alloc = 0;
    for (const d of n.disks) {
      maxFit = Math.max(maxFit, Math.min(d.totalBytes - d.allocatedBytes, d.freeBytes));
      total += d.totalBytes;
      alloc += d.allocatedBytes;
    }
    this.diskMaxFit[i] = maxFit;
    this.diskTotal[i] = total;
    this.diskAlloc[i] = alloc;
    this.count[i] = n.instanceCount;
    this.tieHash[i] = n.tieHash ?? nameHash(n.name);
    this.flags[i] = (n.cordoned ? NODE_CORDONED : 0) | (firstFreePort(n) !== undefined ? NODE_HAS_PORT : 0);
    this.syncGroups(i, n);
  }

  cordoned(i: number): boolean {
    return (this.flags[i]! & NODE_CORDONED) !== 0;
  }

  // 1 where the node satisfies the constraint (soft or not: the caller decides whether it counts).
  mask(c: Constraint): Uint8Array {
    const key = `${c.op}\u0000${c.key}\u0000${c.values.join('\u0000')}`;
    let m = this.masks.get(key);
    if (!m) {
      m = new Uint8Array(this.size);
      for (let i = 0; i < this.size; i++) m[i] = satisfies(this.nodes[i]!.labels, c) ? 1 : 0;
      this.masks.set(key, m);
    }
    return m;
  }

  // Each node's value of one label (undefined where it has none).
  column(key: string): (string | undefined)[] {
    let col = this.columns.get(key);
    if (!col) {
      col = this.nodes.slice(0, this.size).map((n) => n.labels[key]);
      this.columns.set(key, col);
    }
    return col;
  }

  private syncGroups(i: number, n: NodeSnapshot): void {
    const now = n.antiAffinityGroups ? [...n.antiAffinityGroups.keys()] : [];
    const before = this.nodeGroups[i]!;
    if (now.length === 0 && before.length === 0) return;
    for (const g of before) if (!n.antiAffinityGroups?.has(g)) this.groups.get(g)?.delete(i);
    for (const g of now) {
      let s = this.groups.get(g);
      if (!s) this.groups.set(g, (s = new Set()));
      s.add(i);
    }
    for (const g of before) if (this.groups.get(g)?.size === 0) this.groups.delete(g);
    this.nodeGroups[i] = now;
  }

  private grow(min: number): void {
    if (min <= this.cpuCap.length) return;
    const cap = Math.max(16, this.cpuCap.length * 2, min);
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.cpuCap = f64(this.cpuCap);
    this.cpuAlloc = f64(this.cpuAlloc);
    this.memCap = f64(this.memCap);
    this.memAlloc = f64(this.memAlloc);
    this.heartbeat = f64(this.heartbeat);
    this.diskMaxFit = f64(this.diskMaxFit);
    this.diskTotal = f64(this.diskTotal);
    this.diskAlloc = f64(this.diskAlloc);
    const count = new Int32Array(cap);
    count.set(this.count);
    this.count = count;
    const hash = new Uint32Array(cap);
    hash.set(this.tieHash);
    this.tieHash = hash;
    const flags = new Uint8Array(cap);
    flags.set(this.flags);
    this.flags = flags;
    this.scratch.pass = new Uint8Array(cap);
    this.scratch.scores = new Float64Array(cap);
  }
}
