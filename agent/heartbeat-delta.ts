import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';

// A full report every this many heartbeats even when deltas are accepted: the manager's copy of
// usage (measured time, figures within a step) is then never older than this many beats.
export const FULL_EVERY = 15;

const step = (used: number | undefined, of: number | undefined, parts: number) => (of && of > 0 ? Math.floor((Number(used ?? 0) * parts) / Number(of)) : Number(used ?? 0));

// What the manager acts on in an instance's report. Usage is counted in steps (1% of the disk
// and memory reservation, 5% of the CPU limit): figures that move every measurement would
// otherwise make every heartbeat a full one.
export function reportKey(i: AgentInstance): string {
  const r = i.resources ?? {};
  return [
    i.state, i.containerId, i.port, i.diskPath, i.image, i.flavor, i.version, r.cpuMillis, r.memoryBytes, r.diskBytes, i.tls ? 1 : 0, i.tlsRequired ? 1 : 0,
    i.mysqldUnresponsive ? 1 : 0, i.usageMeasuredAtMs ? 1 : 0,
    step(i.usedDiskBytes as number, r.diskBytes as number, 100), step(i.usedMemoryBytes as number, r.memoryBytes as number, 100), step(i.usedCpuMillis, r.cpuMillis, 20),
  ].join('|');
}

export interface BeatPlan {
  delta: boolean;
  instances: AgentInstance[];
  removed: string[];
}

// What to send: everything (no acknowledged report, or deltas not allowed now), or only the
// instances whose key differs from the acknowledged one, those with a replication state (failure
// detection reads its freshness every beat), and the ids gone since.
export function planBeat(acked: ReadonlyMap<string, string> | undefined, current: readonly AgentInstance[], keys: ReadonlyMap<string, string>, allowDelta: boolean): BeatPlan {
  if (!acked || !allowDelta) return { delta: false, instances: [...current], removed: [] };
  const instances = current.filter((i) => i.replication || acked.get(i.id!) !== keys.get(i.id!));
  const removed: string[] = [];
  for (const id of acked.keys()) if (!keys.has(id)) removed.push(id);
  return { delta: true, instances, removed };
}
