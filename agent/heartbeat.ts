import type { RegistryClient } from '../src/gen/berth/v1/Registry';
import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';
import type { NodeInfo } from '../src/gen/berth/v1/NodeInfo';
import type { Logger } from '../src/log';
import type { AsyncClient } from '../src/rpc';
import { errorMessage } from '../src/errors';
import { listeningPorts, probeDisk } from './host';
import type { Instances } from './instance/lifecycle';
import { toAgentInstance } from './server';
import { FULL_EVERY, planBeat, reportKey } from './heartbeat-delta';
import { heartbeatInterval } from './heartbeat-interval';
import type { UsageProbe } from './usage';
import type { ReplicationProbe } from './replication-state';
import type { WriteLease } from './write-lease';
import type { AgentRevocations } from './revocations';

// Register, then heartbeat every few seconds with capacity, free space and instance states.
// A manager that is down or was reset is retried forever; the agent keeps serving meanwhile.
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private registered = false;
  // The manager's interval (its register answer); intervalMs is shorter while this node holds
  // leased primaries (heartbeat-interval.ts).
  private managerIntervalMs = 2000;
  private intervalMs = 2000;
  private stopped = false;
  private busy = false;
  private again = false;
  // Per instance, the report key the manager holds since its last answer (undefined: it may
  // hold nothing, the next heartbeat is a full one), and whether it takes deltas.
  private acked: Map<string, string> | undefined;
  private deltaOk = false;
  private sinceFull = 0;

  constructor(
    private readonly registry: AsyncClient<RegistryClient>,
    private readonly info: () => Promise<NodeInfo>,
    private readonly instances: Instances,
    private readonly log: Logger,
    private readonly usage?: UsageProbe,
    private readonly health?: { replication: ReplicationProbe; lease: WriteLease },
    private readonly revocations?: AgentRevocations,
  ) {}

  // Sends the next heartbeat now (an instance went down or came back): failure detection
  // should not wait for the regular tick. Ticks never overlap.
  nudge(): void {
    if (this.stopped) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    void this.tick();
  }

  start(): void {
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    this.busy = true;
    const sentAtMs = Date.now();
    try {
      const info = await this.info();
      const instances = await this.report();
      if (this.registered) await this.beat(info, instances, sentAtMs);
      else await this.register(info, instances, sentAtMs);
    } catch (err) {
      this.registered = false;
      this.acked = undefined;
      this.log.warn({ err: errorMessage(err) }, 'manager did not take the heartbeat; retrying');
    }
    this.busy = false;
    if (this.stopped) return;
    if (this.again) {
      this.again = false;
      return void this.tick();
    }
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
  }

  // Every instance with what the probes last measured of it.
  private async report(): Promise<AgentInstance[]> {
    return (await this.instances.list()).map((i) => {
      const u = this.usage?.get(i.id);
      const replication = this.health?.replication.get(i.id);
      const out = replication ? { ...toAgentInstance(i), replication } : toAgentInstance(i);
      return u
        ? { ...out, usedDiskBytes: u.usedDiskBytes, usedMemoryBytes: u.usedMemoryBytes, usedCpuMillis: u.usedCpuMillis, mysqldUnresponsive: u.mysqldUnresponsive, usageMeasuredAtMs: u.measuredAtMs }
        : out;
    });
  }

  private async register(info: NodeInfo, instances: AgentInstance[], sentAtMs: number): Promise<void> {
    const res = await this.registry.register({ node: info, instances, sentAtMs });
    this.managerIntervalMs = res.heartbeatIntervalMs || this.managerIntervalMs;
    this.registered = true;
    this.acked = keysOf(instances);
    this.health?.lease.renew(sentAtMs, res.writeLease);
    this.intervalMs = heartbeatInterval(this.managerIntervalMs, res.writeLease);
    this.revocations?.apply(res.revocations);
    this.log.info({ node: info.name, instances: instances.length }, 'registered with the manager');
  }

  // A delta when the manager takes them and holds the last report, a full report otherwise.
  private async beat(info: NodeInfo, instances: AgentInstance[], sentAtMs: number): Promise<void> {
    const keys = keysOf(instances);
    const plan = planBeat(this.acked, instances, keys, this.deltaOk && this.sinceFull < FULL_EVERY);
    const res = await this.registry.heartbeat({
      node: info.name,
      disks: info.disks,
      instances: plan.instances,
      busyPorts: info.busyPorts,
      delta: plan.delta,
      removedInstanceIds: plan.removed,
      revocationsVersion: this.revocations?.version ?? 0,
      sentAtMs,
    });
    this.revocations?.apply(res.revocations);
    this.deltaOk = res.acceptsDelta;
    this.sinceFull = plan.delta ? this.sinceFull + 1 : 0;
    this.acked = res.fullReport || res.reregister ? undefined : keys;
    if (res.reregister) this.registered = false;
    else this.health?.lease.renew(sentAtMs, res.writeLease);
    this.intervalMs = heartbeatInterval(this.managerIntervalMs, res.writeLease);
    // A manager that lost this node's report wants a full one now, not at the next tick.
    if (res.fullReport) this.again = true;
  }
}

function keysOf(instances: AgentInstance[]): Map<string, string> {
  return new Map(instances.map((i) => [i.id ?? '', reportKey(i)]));
}

export async function probeNode(cfg: {
  name: string;
  agentAddress: string;
  host: string;
  labels: Record<string, string>;
  cpuMillis: number;
  memoryBytes: number;
  disks: string[];
  portMin: number;
  portMax: number;
  agentVersion: string;
  dockerVersion: string;
}): Promise<NodeInfo> {
  return {
    name: cfg.name,
    agentAddress: cfg.agentAddress,
    host: cfg.host,
    labels: cfg.labels,
    cpuMillis: cfg.cpuMillis,
    memoryBytes: cfg.memoryBytes,
    disks: await Promise.all(cfg.disks.map(probeDisk)),
    portMin: cfg.portMin,
    portMax: cfg.portMax,
    agentVersion: cfg.agentVersion,
    dockerVersion: cfg.dockerVersion,
    busyPorts: await listeningPorts(cfg.portMin, cfg.portMax),
  };
}
