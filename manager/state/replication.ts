import type { AgentReplicationState__Output } from '../../src/gen/berth/v1/AgentReplicationState';

// The replication state each agent read at its last heartbeat, per instance. Kept in memory
// only (the Snapshot side of health): it changes every second and means nothing after a
// restart, so no store write happens per heartbeat.
export interface ReplicationReport {
  node: string;
  state: AgentReplicationState__Output;
  // When the manager heard it.
  receivedAtMs: number;
}

export class ReplicationMap {
  private readonly byId = new Map<string, ReplicationReport>();
  private readonly byNode = new Map<string, Set<string>>();

  report(node: string, instances: { id: string; replication?: AgentReplicationState__Output | null }[], now = Date.now()): void {
    const ids = new Set<string>();
    for (const i of instances) {
      if (!i.replication) continue;
      ids.add(i.id);
      this.byId.set(i.id, { node, state: i.replication, receivedAtMs: now });
    }
    for (const id of this.byNode.get(node) ?? []) if (!ids.has(id) && this.byId.get(id)?.node === node) this.byId.delete(id);
    this.byNode.set(node, ids);
  }

  get(id: string): ReplicationReport | undefined {
    return this.byId.get(id);
  }

  entries(): IterableIterator<[string, ReplicationReport]> {
    return this.byId.entries();
  }
}
