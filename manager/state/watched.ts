import type { ReplicationMap } from './replication';
import type { UsageMap } from './usage';
import type { NodeSnapshot } from '../scheduler/types';
import type { InstanceRow } from '../store/instances';

// The read side of the periodic whole-fleet scans (alert rules every 10 s, automatic expansion).
// Reading every instance row for them (170,000 at 10,000 agents) stalled the event loop for a
// second and more, heartbeats included. They only ever act on a few instances: those the usage
// map marks notable as the heartbeats arrive (UsageMap.notable), those with a replication
// report (cluster members), and for disk pressure those on a disk running out of room. Only
// those rows are read, each by its key.
export interface WatchedSource {
  instances: { get(id: string): InstanceRow | undefined; onNode(node: string): InstanceRow[] };
}

export function rowsOf(store: WatchedSource, ids: Iterable<string>): InstanceRow[] {
  const out: InstanceRow[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    const row = store.instances.get(id);
    if (row) out.push(row);
  }
  return out;
}

// What the alert rules can fire on: every rule needs a usage or replication report of the
// instance, and only a notable usage report can fire one.
export function alertInstances(store: WatchedSource, usage: UsageMap, replication?: ReplicationMap): InstanceRow[] {
  return rowsOf(store, chain(usage.notable(), replication ? keysOf(replication.entries()) : []));
}

// Data disks with less real free space than `freePct` of their size, per node.
export function disksBelow(nodes: readonly NodeSnapshot[], freePct: number): { node: string; path: string }[] {
  const out: { node: string; path: string }[] = [];
  for (const n of nodes) for (const d of n.disks) if (d.totalBytes > 0 && d.freeBytes * 100 < d.totalBytes * freePct) out.push({ node: n.name, path: d.path });
  return out;
}

function* chain<T>(...xs: Iterable<T>[]): Iterable<T> {
  for (const x of xs) yield* x;
}

function* keysOf<K, V>(it: Iterable<[K, V]>): Iterable<K> {
  for (const [k] of it) yield k;
}
