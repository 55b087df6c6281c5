import type { InstanceRow } from './instances';
import type { NodeRow } from './nodes';
import type { OperationRow } from './operations';

// What the scheduler believes a node has given out (the Snapshot's figures).
export interface Allocation {
  cpuMillis: number;
  memoryBytes: number;
  instanceCount: number;
  // Disk path -> bytes reserved on it.
  disks: Record<string, number>;
}

export type FindingKind = 'allocation-mismatch' | 'orphan-reservation' | 'outside-node';

export interface Finding {
  kind: FindingKind;
  // A node name (allocation-mismatch) or an instance id.
  subject: string;
  message: string;
}

// States only an operation puts an instance in: with no operation left to finish it, the row
// holds its node's resources for nothing.
const TRANSIENT = new Set(['pending', 'creating', 'deleting']);

// Reservations are instance rows; a node's allocation is their sum. Recomputed from the rows
// and compared with what the scheduler holds; rows an operation should be driving but none is;
// rows whose port or disk is not their node's. Pure: the caller reports and corrects.
export function checkReservations(nodes: readonly NodeRow[], instances: readonly InstanceRow[], active: readonly OperationRow[], believed: (node: string) => Allocation | undefined): Finding[] {
  const out: Finding[] = [];
  const sums = allocations(nodes, instances);
  for (const n of nodes) {
    const want = sums.get(n.name)!;
    const have = believed(n.name);
    if (!have || !sameAllocation(want, have)) out.push({ kind: 'allocation-mismatch', subject: n.name, message: `node ${n.name}: the scheduler held ${describe(have)}, its instances sum to ${describe(want)}` });
  }
  const held = heldInstances(active);
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const i of instances) {
    if (TRANSIENT.has(i.state) && !held.has(i.id)) {
      out.push({ kind: 'orphan-reservation', subject: i.id, message: `${i.name} is ${i.state} on ${i.node} but no operation is working on it: its reservation (port ${i.port}) is held for nothing` });
    }
    const n = byName.get(i.node);
    if (n && (i.port < n.portMin || i.port > n.portMax || (n.disks.length > 0 && !n.disks.some((d) => d.path === i.diskPath)))) {
      out.push({ kind: 'outside-node', subject: i.id, message: `${i.name} holds port ${i.port} on ${i.diskPath}, outside node ${i.node}'s ports ${n.portMin}-${n.portMax} or disks` });
    }
  }
  return out;
}

export function allocations(nodes: readonly NodeRow[], instances: readonly InstanceRow[]): Map<string, Allocation> {
  const sums = new Map<string, Allocation>(nodes.map((n) => [n.name, { cpuMillis: 0, memoryBytes: 0, instanceCount: 0, disks: Object.fromEntries(n.disks.map((d) => [d.path, 0])) }]));
  for (const i of instances) {
    const a = sums.get(i.node);
    if (!a) continue;
    a.cpuMillis += i.cpuMillis;
    a.memoryBytes += i.memoryBytes;
    a.instanceCount += 1;
    if (i.diskPath in a.disks) a.disks[i.diskPath]! += i.diskBytes;
  }
  return sums;
}

// Instances an unfinished operation is about: its instance subjects, and a migration's target
// reservation (named after the operation, or passed in its parameters).
function heldInstances(active: readonly OperationRow[]): Set<string> {
  const held = new Set<string>();
  for (const op of active) {
    for (const s of op.subjects) if (s.kind === 'instance') held.add(s.name);
    held.add(`i-${op.id.slice(3)}`);
    const r = (op.params as { reservationId?: unknown }).reservationId;
    if (typeof r === 'string') held.add(r);
  }
  return held;
}

function sameAllocation(a: Allocation, b: Allocation): boolean {
  if (a.cpuMillis !== b.cpuMillis || a.memoryBytes !== b.memoryBytes || a.instanceCount !== b.instanceCount) return false;
  const paths = new Set([...Object.keys(a.disks), ...Object.keys(b.disks)]);
  for (const p of paths) if ((a.disks[p] ?? 0) !== (b.disks[p] ?? 0)) return false;
  return true;
}

const describe = (a: Allocation | undefined) =>
  a ? `${a.instanceCount} instances, ${a.cpuMillis}m CPU, ${a.memoryBytes} B memory, disks ${JSON.stringify(a.disks)}` : 'nothing (node unknown to it)';
