import { EventEmitter } from 'node:events';
import type { Shape } from '../../src/validate';
import { reconcile, type Reported } from '../health/reconcile';
import { Snapshot } from '../scheduler/snapshot';
import type { Store } from '../store/index';
import type { InstanceRow, InstanceState } from '../store/instances';
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

const owners = new WeakMap<Snapshot, FleetState>();

// The one owner of fleet state. Every change to nodes and instances goes through here: it is
// written to the store in one transaction, and only after the commit applied to the scheduler's
// Snapshot and announced to event listeners, so the Snapshot never holds what the store might
// still roll back and nobody patches the two separately. Changes compose: a change made inside
// another (`change(() => { … })`) joins its transaction and its after-commit list.
export class FleetState {
  private readonly emitter = new EventEmitter();
  private pending: (() => void)[] | undefined;

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
    if (this.store.db.inTransaction) throw new Error('a fleet change cannot run inside a bare store transaction: use change()');
    this.pending = [];
    try {
      const out = this.store.tx(fn);
      const after = this.pending;
      this.pending = undefined;
      for (const f of after) f();
      return out;
    } finally {
      this.pending = undefined;
    }
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
      this.event('node.registered', n.name, `${isNew ? 'new node' : 'node back'} at ${n.agentAddress}, ${reported.length} instances`);
      this.applyReport(n.name, reported, onUnknown);
      this.afterCommit(() => this.snapshot.upsertNode(this.store.nodes.get(n.name)!));
    });
    return { isNew };
  }

  heartbeat(name: string, atMs: number, disks: DiskRow[], busyPorts: number[], reported: Reported[], onUnknown?: (ids: string[]) => void): void {
    this.change(() => {
      this.store.nodes.heartbeat(name, atMs, disks, busyPorts);
      this.applyReport(name, reported, onUnknown);
      this.afterCommit(() => this.snapshot.heartbeat(name, atMs, disks, busyPorts));
    });
  }

  // The caller has checked the node exists.
  setCordoned(name: string, cordoned: boolean, event = cordoned ? { kind: 'node.cordoned', message: 'no new instances will be placed here' } : { kind: 'node.uncordoned', message: 'open for new instances' }): void {
    this.change(() => {
      this.store.nodes.setCordoned(name, cordoned);
      this.event(event.kind, name, event.message);
      this.afterCommit(() => this.snapshot.setCordoned(name, cordoned));
    });
  }

  // The reservation: from the commit on, the node's CPU, memory, disk and port are taken.
  reserveInstance(r: NewInstance): InstanceRow {
    return this.change(() => {
      const row = this.store.instances.insert(r);
      this.afterCommit(() => this.snapshot.addInstance(row));
      return row;
    });
  }

  // State and what the agent reported; nothing the scheduler counts changes.
  updateInstance(id: string, u: { state: InstanceState; flavor?: string; version?: string; containerId?: string; message?: string }): void {
    this.change(() => this.store.instances.update(id, u));
  }

  // Frees the reservation: the row goes, and with it the node's CPU, memory, disk and port.
  releaseInstance(id: string): InstanceRow | undefined {
    return this.change(() => {
      const row = this.store.instances.get(id);
      if (!row) return undefined;
      this.store.instances.delete(id);
      this.afterCommit(() => this.snapshot.removeInstance(row));
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
      this.afterCommit(() => this.swap(before, after));
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
      this.afterCommit(() => this.swap(before, after));
      return after;
    });
  }

  private swap(before: InstanceRow, after: InstanceRow): void {
    this.snapshot.removeInstance(before);
    this.snapshot.addInstance(after);
  }

  private applyReport(node: string, reported: Reported[], onUnknown?: (ids: string[]) => void): void {
    const { updates, unknown } = reconcile(this.store.instances.onNode(node), reported);
    for (const u of updates) {
      this.store.instances.update(u.id, { state: u.state, containerId: u.containerId });
      this.event(`instance.${u.state}`, u.id, `node ${node} reports the instance ${u.state}`);
    }
    if (unknown.length) onUnknown?.(unknown);
  }

  private afterCommit(f: () => void): void {
    if (!this.pending) throw new Error('fleet changes happen inside change()');
    this.pending.push(f);
  }

  private mustGet(id: string): InstanceRow {
    const row = this.store.instances.get(id);
    if (!row) throw new Error(`instance ${id} is not in the store`);
    return row;
  }
}
