import type { Instance } from '../../src/gen/berth/v1/Instance';
import type { Node } from '../../src/gen/berth/v1/Node';
import type { Operation } from '../../src/gen/berth/v1/Operation';
import { heartbeatFresh } from '../scheduler/liveness';
import type { NodeSnapshot, SchedulerConfig } from '../scheduler/types';
import type { InstanceRow } from '../store/instances';
import type { Snapshot } from '../scheduler/snapshot';
import type { NodeRow } from '../store/nodes';
import type { OperationRow } from '../store/operations';

// Where an instance is served from, and whether its node still vouches for its state. Liveness
// is the Snapshot's: heartbeats that change nothing are not written to the store.
export function servingNode(snapshot: Pick<Snapshot, 'get'>, name: string, cfg: SchedulerConfig, now: number): { host: string; up: boolean } {
  const n = snapshot.get(name);
  return { host: n?.host ?? '', up: !!n && heartbeatFresh(n.lastHeartbeatMs, now, cfg) };
}

// An instance on a node that stopped heartbeating may be fine or may be gone: say "unknown"
// rather than repeat the last state the node reported. Derived at read time, never stored.
export function toInstance(i: InstanceRow, node: { host: string; up: boolean }): Instance {
  const host = node.host;
  const state = !node.up && ['running', 'stopped', 'restarting', 'missing'].includes(i.state) ? 'unknown' : i.state;
  return {
    id: i.id,
    name: i.name,
    node: i.node,
    host,
    port: i.port,
    resources: { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes },
    state,
    image: i.image,
    flavor: i.flavor,
    version: i.version,
    diskPath: i.diskPath,
    containerId: i.containerId,
    serverId: i.serverId,
    createdAt: i.createdAt,
    message: i.message,
    cluster: i.antiAffinityGroup,
    antiAffinityGroup: i.antiAffinityGroup,
    clusterName: i.clusterName,
    clusterRole: i.clusterRole,
    fenced: i.fenced,
  };
}

export function toNode(n: NodeRow, snap: NodeSnapshot | undefined, cfg: SchedulerConfig, now: number): Node {
  const lastHeartbeatMs = snap?.lastHeartbeatMs ?? n.lastHeartbeatMs;
  const alive = heartbeatFresh(lastHeartbeatMs, now, cfg);
  return {
    name: n.name,
    agentAddress: n.agentAddress,
    host: n.host,
    labels: n.labels,
    state: alive ? 'ready' : 'down',
    cordoned: n.cordoned,
    capacity: { cpuMillis: n.cpuMillis, memoryBytes: n.memoryBytes, diskBytes: n.disks.reduce((s, d) => s + d.totalBytes, 0) },
    allocated: {
      cpuMillis: snap?.allocated.cpuMillis ?? 0,
      memoryBytes: snap?.allocated.memoryBytes ?? 0,
      diskBytes: snap?.disks.reduce((s, d) => s + d.allocatedBytes, 0) ?? 0,
    },
    disks: (snap?.disks ?? n.disks.map((d) => ({ ...d, allocatedBytes: 0 }))).map((d) => ({
      path: d.path,
      totalBytes: d.totalBytes,
      freeBytes: d.freeBytes,
      allocatedBytes: d.allocatedBytes,
    })),
    portMin: n.portMin,
    portMax: n.portMax,
    instanceCount: snap?.instanceCount ?? 0,
    lastHeartbeat: new Date(lastHeartbeatMs).toISOString(),
  };
}

export function toOperation(o: OperationRow): Operation {
  const outputs: Record<string, string> = {};
  for (const st of o.steps) if (st.output) outputs[st.name] = st.output;
  return {
    id: o.id,
    type: o.type,
    instanceId: o.instanceId,
    state: o.state,
    error: o.error,
    steps: o.steps.map((s) => ({ name: s.name, state: s.state, startedAt: s.startedAt, finishedAt: s.finishedAt, error: s.error, output: s.output, attempts: s.attempts })),
    createdAt: o.createdAt,
    finishedAt: o.finishedAt,
    params: JSON.stringify(o.params),
    subjects: o.subjects,
    progress: o.progress,
    outputs,
    parentId: o.parentId,
    childIds: o.childIds,
    updatedAt: o.updatedAt,
    undoingStep: o.state === 'rolling_back' ? (o.steps[o.undoStep]?.name ?? '') : '',
    committed: o.committed,
  };
}
