import { EventEmitter } from 'node:events';
import type { Shape } from '../../src/validate';
import { reconcile, type Reported } from './reconcile';
import { Snapshot } from '../scheduler/snapshot';
import { nameHash } from '../scheduler/schedule';
import type { Store } from '../store/index';
import type { ClusterRow, ClusterState, NewCluster, NewHistory } from '../store/clusters';
import type { ClusterRole, InstanceRow, InstanceState } from '../store/instances';
import type { LastSeenRow } from '../store/last-seen';
import type { NewDiscarded } from '../store/discarded';
import type { DiskRow, NodeRow } from '../store/nodes';

export type NewInstance = Parameters<Store['instances']['insert']>[0];
export type NodeRegistration = Omit<NodeRow, 'cordoned' | 'registeredAt'>;
export interface FleetEvent {
  kind: string;
  subject: string;
  message: string;
}
export interface Placement {
  node: string;
  diskPath: string;
  port: number;
  // A migration's target ran as a replica under a server id of its own, which it keeps.
  serverId?: number;
}

// Applied after the commit; `undo` (for the Snapshot changes) lets a group-committed change
// apply it before the commit, so that the next change in the same batch sees it.
interface AfterCommit {
  apply: () => void;
  undo?: () => void;
}

const owners = new WeakMap<Snapshot, FleetState>();

// A node's liveness is written to the store at least this often (it is read from the Snapshot;
// the store's copy serves the views and a restarted manager).
const PERSIST_BEAT_MS = 30_000;

// The registry hands over the same list again for a heartbeat that repeats the last report (a
// delta with nothing in it): its part of the key is made once per list, not per beat (no
// caller changes a report list in place).
const reportKeys = new WeakMap<Reported[], string>();

function beatKey(busyPorts: number[], reported: Reported[]): string {
  let k = reportKeys.get(reported);
  if (k === undefined) {
    k = '';
    for (const r of reported) k += `|${r.id}:${r.state}:${r.containerId}`;
    reportKeys.set(reported, k);
  }
  return busyPorts.join(',') + k;
}

// Real free space moves a little with every write on the host: worth a store write only when it
// moved by more than a percent of the disk (the Snapshot has the exact figure regardless).
function disksMoved(before: DiskRow[], now: DiskRow[]): boolean {
  if (before.length !== now.length) return true;
  for (let i = 0; i < now.length; i++) {
    const a = before[i]!;
    const b = now[i]!;
    if (a.path !== b.path || a.totalBytes !== b.totalBytes || Math.abs(a.freeBytes - b.freeBytes) > b.totalBytes / 100) return true;
  }
  return false;
}

// The same disks, whatever their free space.
function sameDisks(before: DiskRow[], now: DiskRow[]): boolean {
  return before.length === now.length && now.every((d, i) => d.path === before[i]!.path && d.totalBytes === before[i]!.totalBytes);
}

// The one owner of fleet state. Every change to nodes and instances goes through here: it is
// written to the store in one transaction, and only after the commit applied to the scheduler's
// Snapshot and announced to event listeners, so the Snapshot never holds what the store might
// still roll back and nobody patches the two separately. Changes compose: a change made inside
// another (`change(() => { … })`) joins its transaction and its after-commit list.
export class FleetState {
  private readonly emitter = new EventEmitter();
  // Per node: what its last written heartbeat said, and a count of changes to its instance rows
  // (a heartbeat that repeats itself still needs reconciling when the store moved under it).
  private readonly lastBeat = new Map<string, { key: string; version: number; persistedAt: number; disks: DiskRow[] }>();
  private readonly versions = new Map<string, number>();
  // Per node: the ids of the instance rows placed on it, as of a version (see placedOn).
  private readonly placed = new Map<string, { version: number; ids: ReadonlySet<string> }>();
  private pending: AfterCommit[] | undefined;

  private constructor(
    readonly store: Store,
    readonly snapshot: Snapshot,
  ) {
    this.emitter.setMaxListeners(0);
  }

  // The owner of this snapshot (made on first use): every caller shares one.
  static of(store: Store, snapshot: Snapshot): FleetState {
    let f = owners.get(snapshot);
    if (!f) owners.set(snapshot, (f = new FleetState(store, snapshot)));
    return f;
  }

  static load(store: Store): FleetState {
    return FleetState.of(store, Snapshot.fromStore(store.nodes.all(), store.instances.all()));
  }

  change<T>(fn: () => T): T {
    if (this.pending) return fn();
    // Inside a bare store transaction "after the commit" would come before it.
    if (this.store.inTransaction) throw new Error('a fleet change cannot run inside a bare store transaction: use change()');
    this.pending = [];
    try {
      const out = this.store.tx(fn);
      const after = this.pending;
      this.pending = undefined;
      for (const f of after) f.apply();
      return out;
    } finally {
      this.pending = undefined;
    }
  }

  // A change that shares its transaction and its fsync with every other one made in the same
  // turn of the event loop (store/writer.ts): resolves once it is durable. The Snapshot part is
  // applied as soon as the change has run, so the next change in the batch (the next create of
  // a burst) decides on it; if the COMMIT fails it is taken back before anyone is answered.
  // Event listeners hear of it only after the commit.
  commit<T>(fn: () => T): Promise<T> {
    let applied: AfterCommit[] = [];
    return this.store.write(
      () => {
        this.pending = [];
        try {
          const out = fn();
          applied = this.pending;
          this.pending = undefined;
          for (const f of applied) if (f.undo) f.apply();
          return out;
        } finally {
          this.pending = undefined;
        }
      },
      () => {
        for (let i = applied.length - 1; i >= 0; i--) applied[i]!.undo?.();
      },
      () => {
        for (const f of applied) if (!f.undo) f.apply();
      },
    );
  }

  onEvent(listener: (e: FleetEvent) => void): void {
    this.emitter.on('event', listener);
  }

  event(kind: string, subject: string, message: string): void {
    this.change(() => {
      this.store.events.add(kind, subject, message);
      this.afterCommit(() => this.emitter.emit('event', { kind, subject, message }));
    });
  }

  registerNode(n: NodeRegistration, reported: Reported[], onUnknown?: (ids: string[]) => void): { isNew: boolean } {
    const isNew = !this.store.nodes.get(n.name);
    this.change(() => {
      this.store.nodes.register(n);
      this.lastBeat.delete(n.name);
      this.event('node.registered', n.name, `${isNew ? 'new node' : 'node back'} at ${n.agentAddress}, ${reported.length} instances`);
      this.applyReport(n.name, reported, onUnknown);
      this.afterCommit(() => this.snapshot.upsertNode(this.store.nodes.get(n.name)!));
    });
    return { isNew };
  }

  // Most heartbeats change nothing: the same instances in the same states, the same busy ports,
  // disks within a percent of what was written. Those touch memory only (liveness and real free
  // space in the Snapshot): no store write, no reconciliation query, no port rebuild. The rest,
  // and each node's liveness every PERSIST_BEAT_MS, are group-committed with whatever else is
  // being written in that turn.
  heartbeat(name: string, atMs: number, disks: DiskRow[], busyPorts: number[], reported: Reported[], onUnknown?: (ids: string[]) => void): Promise<void> | undefined {
    const key = beatKey(busyPorts, reported);
    const last = this.lastBeat.get(name);
    const version = this.versions.get(name) ?? 0;
    const same = last !== undefined && last.key === key && last.version === version;
    if (same && atMs - last.persistedAt < PERSIST_BEAT_MS && !disksMoved(last.disks, disks)) {
      this.snapshot.touch(name, atMs, disks);
      return undefined;
    }
    // The same report against the same rows reconciles to nothing: only liveness and free space
    // are due (the periodic write, or free space that moved), without reading the node's rows.
    const quiet = same && sameDisks(last.disks, disks);
    return this.commit(() => {
      this.store.nodes.heartbeat(name, atMs, disks, busyPorts);
      if (quiet) return this.afterCommit(() => this.snapshot.touch(name, atMs, disks));
      this.applyReport(name, reported, onUnknown);
      this.afterCommit(() => this.snapshot.heartbeat(name, atMs, disks, busyPorts));
    }).then(() => {
      // Counted as written up to a third of the period earlier, by a per-node amount: nodes whose
      // first beats came together (a manager start) drift apart instead of all writing their
      // liveness in the same few seconds every PERSIST_BEAT_MS.
      const persistedAt = atMs - (nameHash(name) % (PERSIST_BEAT_MS / 3));
      this.lastBeat.set(name, { key, version: this.versions.get(name) ?? 0, persistedAt, disks });
    });
  }

  // Real free space an agent measured when it answered a removal: placements count the space
  // a purge freed at once. Memory only: the store keeps the heartbeats' figure (within a
  // percent), and the next heartbeat measures again.
  diskSpaceMeasured(name: string, disks: readonly Pick<DiskRow, 'path' | 'freeBytes'>[]): void {
    this.snapshot.freeSpace(name, disks);
  }

  // The caller has checked the node exists.
  setCordoned(name: string, cordoned: boolean, event = cordoned ? { kind: 'node.cordoned', message: 'no new instances will be placed here' } : { kind: 'node.uncordoned', message: 'open for new instances' }): void {
    this.change(() => {
      const was = Boolean(this.snapshot.get(name)?.cordoned);
      this.store.nodes.setCordoned(name, cordoned);
      this.event(event.kind, name, event.message);
      this.afterCommit(
        () => this.snapshot.setCordoned(name, cordoned),
        () => this.snapshot.setCordoned(name, was),
      );
    });
  }

  // The node is forgotten (its instances are gone already: the caller released them). An agent
  // that comes back registers as a new node.
  removeNode(name: string): void {
    this.change(() => {
      this.store.nodes.remove(name);
      this.lastBeat.delete(name);
      this.event('node.removed', name, 'node removed from the fleet');
      this.afterCommit(() => this.snapshot.removeNode(name));
    });
  }

  // The Snapshot's view of a node rebuilt from the store (the start-up consistency check found
  // it differed from the sum of the node's instance rows).
  resyncNode(name: string): void {
    const n = this.store.nodes.get(name);
    this.snapshot.removeNode(name);
    if (!n) return;
    this.snapshot.upsertNode(n);
    for (const i of this.store.instances.onNode(name)) this.snapshot.addInstance(i);
    this.bump(name);
  }

  // The reservation: from the commit on, the node's CPU, memory, disk and port are taken.
  reserveInstance(r: NewInstance): InstanceRow {
    return this.change(() => {
      const row = this.store.instances.insert(r);
      this.bump(row.node);
      this.afterCommit(
        () => this.snapshot.addInstance(row),
        () => this.snapshot.removeInstance(row),
      );
      return row;
    });
  }

  // State and what the agent reported; nothing the scheduler counts changes.
  updateInstance(id: string, u: { state: InstanceState; flavor?: string; version?: string; containerId?: string; message?: string }): void {
    this.change(() => {
      this.store.instances.update(id, u);
      const node = this.store.instances.get(id)?.node;
      if (node) this.bump(node);
    });
  }

  // Frees the reservation: the row goes, and with it the node's CPU, memory, disk and port.
  releaseInstance(id: string): InstanceRow | undefined {
    return this.change(() => {
      const row = this.store.instances.get(id);
      if (!row) return undefined;
      this.store.instances.delete(id);
      this.bump(row.node);
      this.afterCommit(
        () => this.snapshot.removeInstance(row),
        () => this.snapshot.addInstance(row),
      );
      return row;
    });
  }

  // In place: the instance keeps its node, disk and port and reserves the new shape. The caller
  // (a resize) has checked, in the same change, that the node can take it.
  resizeInstance(id: string, shape: Shape): InstanceRow {
    return this.change(() => {
      const before = this.mustGet(id);
      this.store.instances.resize(id, shape);
      const after = this.mustGet(id);
      this.afterCommit(
        () => this.swap(before, after),
        () => this.swap(after, before),
      );
      return after;
    });
  }

  // The instance's record moves to another node, disk and port (a migration's switch), keeping
  // its id, name, server id and credentials.
  moveInstance(id: string, to: Placement): InstanceRow {
    return this.change(() => {
      const before = this.mustGet(id);
      this.store.instances.move(id, to);
      const after = this.mustGet(id);
      this.afterCommit(
        () => this.swap(before, after),
        () => this.swap(after, before),
      );
      return after;
    });
  }

  // ---- Replicated clusters. Members are instance rows; these change who is what. ----

  // The cluster's row; its members are reserved in the same change (reserveInstance with
  // clusterName and clusterRole).
  createCluster(c: NewCluster): ClusterRow {
    return this.change(() => this.store.clusters.insert(c));
  }

  setClusterState(name: string, state: ClusterState, u: { message?: string; flavor?: string } = {}): void {
    this.change(() => this.store.clusters.setState(name, state, u));
  }

  // The row and its history go; the members must have been released before.
  deleteCluster(name: string): void {
    this.change(() => {
      const left = this.store.instances.inCluster(name);
      if (left.length) throw new Error(`cluster ${name} still has members: ${left.map((i) => i.name).join(', ')}`);
      this.store.clusters.delete(name);
      this.event('cluster.deleted', name, `cluster ${name} deleted`);
    });
  }

  // Joins (or with clusterName '' leaves) a cluster. Making a member primary goes through
  // setPrimary, which demotes the previous one in the same transaction.
  setMembership(id: string, clusterName: string, role: ClusterRole): void {
    this.change(() => {
      const i = this.mustGet(id);
      if (role === 'primary' && i.fenced) throw new Error(`instance ${i.name} is fenced: it is never made a primary again until rebuilt`);
      this.store.instances.setMembership(id, clusterName, role);
    });
  }

  // `id` becomes the cluster's only primary and the previous one a replica, in one transaction
  // (the store's unique index refuses two primaries regardless). Refuses a fenced instance or
  // one that is not a member. Returns the previous primary's id ('' when there was none).
  // `heldGtids`: what it is known to hold as it takes the role (a cut-over's final set, a
  // failover's chosen set), kept for the failover that may judge it before its agent reports again.
  setPrimary(cluster: string, id: string, why: string, heldGtids = ''): { previous: string } {
    return this.change(() => {
      const i = this.mustGet(id);
      if (i.clusterName !== cluster) throw new Error(`instance ${i.name} is not a member of cluster ${cluster}`);
      if (i.fenced) throw new Error(`instance ${i.name} is fenced: it is never made a primary again until rebuilt`);
      const previous = this.store.instances.inCluster(cluster).find((m) => m.clusterRole === 'primary');
      if (previous?.id === id) return { previous: '' };
      if (previous) this.store.instances.setMembership(previous.id, cluster, 'replica');
      this.store.instances.setMembership(id, cluster, 'primary');
      if (previous) this.store.lastSeen.setPromoted(previous.id, '');
      this.store.lastSeen.setPromoted(id, heldGtids);
      this.event('cluster.primary', cluster, `${i.name} (${i.id}) is the primary${previous ? ` instead of ${previous.name} (${previous.id})` : ''}: ${why}`);
      return { previous: previous?.id ?? '' };
    });
  }

  // Never writable again until rebuilt: a primary that was fenced is a replica in the store from
  // here on, so endpoints never name it.
  fenceInstance(id: string, why: string): void {
    this.change(() => {
      const i = this.mustGet(id);
      this.store.instances.setFenced(id, true);
      if (i.clusterRole === 'primary') this.store.instances.setMembership(id, i.clusterName, 'replica');
      this.event('instance.fenced', id, `${i.name}${i.clusterName ? ` (cluster ${i.clusterName})` : ''} fenced: ${why}`);
    });
  }

  // After a rebuild from a copy of the current primary.
  unfenceInstance(id: string, why: string): void {
    this.change(() => {
      this.store.instances.setFenced(id, false);
      this.event('instance.unfenced', id, why);
    });
  }

  // A failover's lost window measured on its old primary's data (cluster-rebuild), with an event.
  // A data directory went to the trash instead of being deleted: kept in the store (berthctl
  // instance discarded) with an event, since it may hold writes a client was told were committed.
  recordDiscard(r: NewDiscarded): void {
    this.change(() => {
      this.store.discarded.add(r);
      const held = r.unseenCount < 0 ? 'what it held could not be read' : r.unseenCount === 0 ? 'it held nothing the server that stayed lacks' : `it held ${r.unseenCount} transactions the server that stayed lacks: ${r.unseenGtids}`;
      this.event('instance.data-discarded', r.instanceId, `data of ${r.instanceName} (${r.reason}) is in the trash at ${r.node}:${r.path}; ${held} (berthctl instance discarded ${r.instanceName})`);
    });
  }

  recordMeasuredLost(cluster: string, historyId: number, transactions: number, message: string): void {
    this.change(() => {
      this.store.clusters.setMeasuredLost(historyId, transactions);
      this.event('cluster.failover.lost-measured', cluster, message);
    });
  }

  // One switchover or failover (done, aborted or failed), with an event beside it.
  recordClusterHistory(h: NewHistory): number {
    return this.change(() => {
      const id = this.store.clusters.addHistory(h);
      const blocked = h.blockedMs !== undefined && h.blockedMs >= 0 ? `, writes blocked ${h.blockedMs} ms` : '';
      this.event(`cluster.${h.kind}.${h.outcome}`, h.cluster, `${h.kind} ${h.outcome}: ${h.fromInstance || '-'} -> ${h.toInstance || '-'}${blocked}${h.reason ? ` (${h.reason})` : ''}`);
      return id;
    });
  }

  // The cluster reconciler's memory of a member (health/last-seen.ts decides when it is due):
  // group-committed, with no event, since it changes nothing anyone schedules on.
  rememberLastSeen(r: LastSeenRow): Promise<void> {
    return this.commit(() => this.store.lastSeen.put(r));
  }

  forgetLastSeen(instanceId: string): Promise<void> {
    return this.commit(() => this.store.lastSeen.forget(instanceId));
  }

  // The instances the store places on a node: a heartbeat's per-instance reports count only for
  // these (a node must not speak for another node's instances). Re-read only when the node's
  // rows changed since (the version every change of them bumps), so a quiet fleet's heartbeats
  // read nothing.
  placedOn(node: string): ReadonlySet<string> {
    const version = this.versions.get(node) ?? 0;
    const c = this.placed.get(node);
    if (c && c.version === version && !this.store.inTransaction) return c.ids;
    const ids = new Set(this.store.instances.idsOnNode(node));
    // Not kept while a transaction is open: it could still roll back what it read.
    if (!this.store.inTransaction) this.placed.set(node, { version, ids });
    return ids;
  }

  private bump(node: string): void {
    this.versions.set(node, (this.versions.get(node) ?? 0) + 1);
  }

  private swap(before: InstanceRow, after: InstanceRow): void {
    this.bump(before.node);
    this.bump(after.node);
    this.snapshot.removeInstance(before);
    this.snapshot.addInstance(after);
  }

  private applyReport(node: string, reported: Reported[], onUnknown?: (ids: string[]) => void): void {
    const { updates, unknown } = reconcile(this.store.instances.onNode(node), reported);
    if (updates.length) this.bump(node);
    for (const u of updates) {
      this.store.instances.update(u.id, { state: u.state, containerId: u.containerId });
      this.event(`instance.${u.state}`, u.id, `node ${node} reports the instance ${u.state}`);
    }
    if (unknown.length) onUnknown?.(unknown);
  }

  private afterCommit(apply: () => void, undo?: () => void): void {
    if (!this.pending) throw new Error('fleet changes happen inside change()');
    this.pending.push({ apply, undo });
  }

  private mustGet(id: string): InstanceRow {
    const row = this.store.instances.get(id);
    if (!row) throw new Error(`instance ${id} is not in the store`);
    return row;
  }
}
