// Failure detection of a cluster's primary: pure functions of what was gathered (the agents'
// reports, the manager's own probe of mysqld, the replicas' view), so every case is a unit test
// and the cluster reconciler only gathers and submits. A primary is dead only when
//  - its agent (heard recently) reports the container gone, or mysqld not answering for a while
//    and the manager's own probe agrees; or
//  - its agent is silent AND the manager cannot reach mysqld AND every replica heard from has
//    lost its IO connection to it (holistic, as orchestrator does: one observer is never enough).
// An agent dying alone, with mysqld still serving, is never a reason to fail over.

export interface DetectionThresholds {
  // An agent not heard from for this long is silent.
  agentSilentMs: number;
  // The agent must have seen mysqld not answering for this long (a restart takes a moment).
  mysqldDownMs: number;
  // The manager's probe must have failed for this long.
  probeFailMs: number;
}

export const DEFAULT_DETECTION: DetectionThresholds = { agentSilentMs: 6000, mysqldDownMs: 1000, probeFailMs: 2000 };

export interface PrimaryObservation {
  now: number;
  agentLastHeartbeatMs: number;
  // The container's state as the agent last listed it (running, stopped, restarting, missing).
  containerState: string;
  // The agent's last replication probe of the primary; undefined before the first.
  agentProbe?: { measuredAtMs: number; mysqldUp: boolean; mysqldDownSinceMs: number };
  // The manager's probe: the last result and, while failing, since when (0 when it succeeds).
  managerProbe?: { atMs: number; reachable: boolean; failingSinceMs: number };
  replicas: ReplicaObservation[];
}

export interface ReplicaObservation {
  name: string;
  // Its agent was heard from recently and its report is of the current primary.
  fresh: boolean;
  ioRunning: boolean;
}

export type PrimaryVerdict = { state: 'healthy' | 'suspect' | 'dead'; reason: string };

const ok = (reason: string): PrimaryVerdict => ({ state: 'healthy', reason });
const suspect = (reason: string): PrimaryVerdict => ({ state: 'suspect', reason });
const dead = (reason: string): PrimaryVerdict => ({ state: 'dead', reason });

export function judgePrimary(o: PrimaryObservation, t: DetectionThresholds): PrimaryVerdict {
  const agentFresh = o.now - o.agentLastHeartbeatMs <= t.agentSilentMs;
  return agentFresh ? judgeWithAgent(o, t) : judgeWithoutAgent(o, t);
}

function judgeWithAgent(o: PrimaryObservation, t: DetectionThresholds): PrimaryVerdict {
  const probeUp = o.managerProbe?.reachable === true;
  // Docker will not bring it back: a stopped (exited, killed) or removed container.
  if (o.containerState === 'stopped' || o.containerState === 'missing') {
    return probeUp ? suspect(`the agent reports the container ${o.containerState} but mysqld answers the manager`) : dead(`the agent reports the primary's container ${o.containerState}`);
  }
  const a = o.agentProbe;
  if (!a || a.mysqldUp) return ok('the agent reports mysqld answering');
  const downFor = a.measuredAtMs - a.mysqldDownSinceMs;
  if (downFor < t.mysqldDownMs) return suspect(`mysqld has not answered its agent for ${downFor} ms`);
  if (probeUp) return suspect('mysqld does not answer its agent but answers the manager');
  return dead(`mysqld has not answered its agent for ${downFor} ms (container ${o.containerState})`);
}

function judgeWithoutAgent(o: PrimaryObservation, t: DetectionThresholds): PrimaryVerdict {
  const silentFor = o.now - o.agentLastHeartbeatMs;
  const p = o.managerProbe;
  if (!p) return suspect(`agent silent for ${silentFor} ms and mysqld not probed yet`);
  if (p.reachable) return ok(`agent silent for ${silentFor} ms but mysqld answers the manager: no failover for an agent alone`);
  const failingFor = o.now - p.failingSinceMs;
  if (failingFor < t.probeFailMs) return suspect(`agent silent and mysqld unreachable for ${failingFor} ms`);
  const heard = o.replicas.filter((r) => r.fresh);
  if (heard.length === 0) return suspect('agent silent and mysqld unreachable, but no replica can confirm (none heard from)');
  const connected = heard.filter((r) => r.ioRunning).map((r) => r.name);
  if (connected.length > 0) return suspect(`agent silent and mysqld unreachable from the manager, but ${connected.join(', ')} still replicate from it`);
  return dead(`agent silent for ${silentFor} ms, mysqld unreachable for ${failingFor} ms, and every replica (${heard.map((r) => r.name).join(', ')}) lost its connection`);
}

// Whether the manager should probe the primary's mysqld itself now. Before its agent counts as
// silent already: once the agent is quiet for half that time, or a replica reports its IO thread
// lost, so that by the time the agent is silent the probe has been failing long enough
// (--failover-probe-fail) and a cut-off host is judged at the silence threshold, not a probe
// period or two after it. A probe is one TCP connection and changes no verdict by itself.
export function probeDue(o: Pick<PrimaryObservation, 'now' | 'agentLastHeartbeatMs' | 'containerState' | 'replicas'> & { mysqldUp?: boolean }, t: DetectionThresholds): boolean {
  if (o.now - o.agentLastHeartbeatMs > t.agentSilentMs / 2) return true;
  if (o.containerState !== 'running' || o.mysqldUp === false) return true;
  return o.replicas.some((r) => r.fresh && !r.ioRunning);
}

export interface PastFailover {
  atMs: number;
  acknowledged: boolean;
}

// Anti-flap: no second automatic failover of a cluster within `periodMs` of the last one unless
// a DBA acknowledged it. Returns why not, or undefined when one may start.
export function failoverBlocked(history: PastFailover[], now: number, periodMs: number): string | undefined {
  const recent = history.filter((h) => !h.acknowledged && now - h.atMs < periodMs).sort((a, b) => b.atMs - a.atMs)[0];
  if (!recent) return undefined;
  const left = Math.ceil((periodMs - (now - recent.atMs)) / 1000);
  return `a failover ${Math.round((now - recent.atMs) / 1000)} s ago is not acknowledged (berthctl cluster ack-failover), or wait ${left} s`;
}
