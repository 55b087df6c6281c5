import type { AgentInstance__Output } from '../../src/gen/berth/v1/AgentInstance';

export interface BeatReport {
  instances: AgentInstance__Output[];
  delta?: boolean;
  removedInstanceIds?: string[];
}

// Each node's last full instance report, with the deltas of its quiet heartbeats applied
// (HeartbeatRequest.delta): a heartbeat that changed nothing carries no instance, so the
// manager decodes a hundred bytes instead of a few kilobytes, and hands the same list as before
// to reconciliation, the usage map and the replication map.
export class NodeReports {
  private readonly byNode = new Map<string, { byId: Map<string, AgentInstance__Output>; list: AgentInstance__Output[] }>();

  // The node's whole report after this heartbeat; undefined when a delta arrives with nothing
  // to apply it to (the caller asks the agent for a full report).
  apply(node: string, beat: BeatReport): AgentInstance__Output[] | undefined {
    if (!beat.delta) {
      this.byNode.set(node, { byId: new Map(beat.instances.map((i) => [i.id, i])), list: beat.instances });
      return beat.instances;
    }
    const base = this.byNode.get(node);
    if (!base) return undefined;
    const removed = beat.removedInstanceIds ?? [];
    if (!beat.instances.length && !removed.length) return base.list;
    for (const i of beat.instances) base.byId.set(i.id, i);
    for (const id of removed) base.byId.delete(id);
    base.list = [...base.byId.values()];
    return base.list;
  }

  forget(node: string): void {
    this.byNode.delete(node);
  }
}
