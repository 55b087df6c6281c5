import { formatSize } from '../../src/units';
import type { Shape } from '../../src/validate';
import { cloneNodes } from '../capacity/fit';
import { explain, plan } from '../scheduler/schedule';
import type { Constraint, FilterContext, NodeSnapshot, Placement, PlacementRequest, ScheduleResult, Strategy, Verdict } from '../scheduler/types';

export type ResizeMode = 'auto' | 'in-place' | 'migrate';
export const RESIZE_MODES: readonly ResizeMode[] = ['auto', 'in-place', 'migrate'];

// What the instance is now, as the decision needs it.
export interface CurrentInstance extends Shape {
  id: string;
  node: string;
  diskPath: string;
  port: number;
  antiAffinityGroup: string;
}

export interface TargetOptions {
  node?: string;
  constraints?: Constraint[];
  strategy?: Strategy;
}

export type ResizeDecision =
  | { kind: 'none'; reason: string }
  | { kind: 'in-place'; reason: string; verdicts: Verdict[] }
  | { kind: 'migrate'; reason: string; placement: Placement; verdicts: Verdict[] }
  | { kind: 'refused'; reason: string; verdicts: Verdict[] };

// Disk never shrinks below what the data takes plus room to keep writing: a tenth of the new
// reservation, at least 256M.
export const DISK_HEADROOM = { share: 0.1, minBytes: 256 * 1024 ** 2 };

export function mergeShape(cur: Shape, change: Partial<Shape>): Shape {
  return { cpuMillis: change.cpuMillis || cur.cpuMillis, memoryBytes: change.memoryBytes || cur.memoryBytes, diskBytes: change.diskBytes || cur.diskBytes };
}

export const sameShape = (a: Shape, b: Shape) => a.cpuMillis === b.cpuMillis && a.memoryBytes === b.memoryBytes && a.diskBytes === b.diskBytes;

// Undefined: the new disk reservation holds the data; else why not (naming the used bytes).
export function diskShrinkError(cur: Shape, next: Shape, usedDiskBytes: number): string | undefined {
  if (next.diskBytes >= cur.diskBytes) return undefined;
  const need = usedDiskBytes + Math.max(DISK_HEADROOM.minBytes, Math.ceil(next.diskBytes * DISK_HEADROOM.share));
  if (next.diskBytes >= need) return undefined;
  return `disk cannot shrink to ${formatSize(next.diskBytes)}: the instance uses ${usedDiskBytes} bytes (${formatSize(usedDiskBytes)}) and needs at least ${formatSize(need)} with headroom`;
}

// The instance's own node as it would be without the instance: its reservation (CPU, memory,
// disk, port, anti-affinity membership) taken out, its data counted as free space again, and
// only its own disk offered (in place, the data stays where it is).
export function nodeWithout(node: NodeSnapshot, i: CurrentInstance, usedDiskBytes: number): NodeSnapshot {
  const [copy] = cloneNodes([node]);
  const n = copy!;
  n.allocated.cpuMillis -= i.cpuMillis;
  n.allocated.memoryBytes -= i.memoryBytes;
  n.disks = n.disks.filter((d) => d.path === i.diskPath).map((d) => ({ ...d, allocatedBytes: d.allocatedBytes - i.diskBytes, freeBytes: d.freeBytes + usedDiskBytes }));
  n.usedPorts.delete(i.port);
  if (n.freePort === null || n.freePort === undefined || i.port < n.freePort) n.freePort = i.port;
  n.instanceCount -= 1;
  if (i.antiAffinityGroup && n.antiAffinityGroups) {
    const c = (n.antiAffinityGroups.get(i.antiAffinityGroup) ?? 1) - 1;
    if (c > 0) n.antiAffinityGroups.set(i.antiAffinityGroup, c);
    else n.antiAffinityGroups.delete(i.antiAffinityGroup);
  }
  return n;
}

const request = (next: Shape, i: CurrentInstance, extra: Partial<PlacementRequest>): PlacementRequest => ({
  ...next,
  antiAffinityGroup: i.antiAffinityGroup || undefined,
  ...extra,
});

// In place: the same filters as a create, run on the instance's node without the instance.
export function inPlaceCheck(node: NodeSnapshot, i: CurrentInstance, next: Shape, usedDiskBytes: number, ctx: FilterContext): { fits: boolean; reason: string; verdicts: Verdict[] } {
  const { result, verdicts } = plan([nodeWithout(node, i, usedDiskBytes)], request(next, i, { node: node.name }), ctx);
  if (result.ok) return { fits: true, reason: `node ${node.name} can take the new shape`, verdicts };
  const v = verdicts[0];
  return { fits: false, reason: `node ${node.name} cannot take it in place: ${v?.filter ?? 'scheduler'}: ${v?.reason ?? explain(result)}`, verdicts };
}

// A migration: the scheduler picks among the other nodes, anti-affinity and constraints honoured.
export function migrationTarget(nodes: readonly NodeSnapshot[], i: CurrentInstance, next: Shape, o: TargetOptions, ctx: FilterContext): { result: ScheduleResult; verdicts: Verdict[] } {
  const others = nodes.filter((n) => n.name !== i.node);
  const out = plan(others, request(next, i, { node: o.node, constraints: o.constraints?.length ? o.constraints : undefined }), ctx, { strategy: o.strategy });
  const r = out.result;
  if (r.ok) r.placement.port = keepPort(nodes.find((n) => n.name === r.placement.node)!, i.port, r.placement.port);
  return out;
}

// Clients keep their port when the target has it free.
export function keepPort(target: NodeSnapshot, port: number, picked: number): number {
  return port >= target.portMin && port <= target.portMax && !target.usedPorts.has(port) ? port : picked;
}

export interface DecideInput {
  mode: ResizeMode;
  instance: CurrentInstance;
  next: Shape;
  nodes: readonly NodeSnapshot[];
  usedDiskBytes: number;
  target: TargetOptions;
  ctx: FilterContext;
}

// auto: in place when the node passes every filter for the new shape, else migrate.
export function decideResize(d: DecideInput): ResizeDecision {
  const { mode, instance: i, next } = d;
  if (mode !== 'migrate' && sameShape(i, next)) return { kind: 'none', reason: 'the instance already has this shape' };
  const own = d.nodes.find((n) => n.name === i.node);
  if (mode !== 'migrate') {
    if (!own) return { kind: 'refused', reason: `node ${i.node} is not registered`, verdicts: [] };
    const inPlace = inPlaceCheck(own, i, next, d.usedDiskBytes, d.ctx);
    if (inPlace.fits) return { kind: 'in-place', reason: inPlace.reason, verdicts: inPlace.verdicts };
    if (mode === 'in-place') return { kind: 'refused', reason: inPlace.reason, verdicts: inPlace.verdicts };
    return migrateOrRefuse(d, `${inPlace.reason}; `);
  }
  return migrateOrRefuse(d, '');
}

function migrateOrRefuse(d: DecideInput, why: string): ResizeDecision {
  const { result, verdicts } = migrationTarget(d.nodes, d.instance, d.next, d.target, d.ctx);
  if (!result.ok) return { kind: 'refused', reason: `${why}no other node can take it: ${explain(result)}`, verdicts };
  return { kind: 'migrate', reason: `${why}migrate to ${result.placement.node}`, placement: result.placement, verdicts };
}
