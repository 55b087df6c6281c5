import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { ApplyRouterResponse__Output } from '../../src/gen/berth/v1/ApplyRouterResponse';
import type { AgentPool } from '../agents/pool';
import type { FleetState } from '../state/fleet';
import type { ReplicationMap } from '../state/replication';
import type { EndpointKind, EndpointRow } from '../store/endpoints';
import { desiredFor, type Member, type RouteTarget } from './desired';
import { planEndpoints } from './plan';

export interface EndpointConfig {
  // Endpoint ports on router nodes.
  range: [number, number];
  // A replica further behind than this serves no reads through the ro endpoint.
  maxLagSeconds: number;
  // A router not refreshed within this long closes every endpoint (agent side).
  leaseMs: number;
  // How often every router gets its whole routing again (catches up one that did not answer).
  intervalMs: number;
  // How long an operation waits for the routers before it goes on (they fail closed anyway).
  pushDeadlineMs: number;
}

export const DEFAULT_ENDPOINTS: EndpointConfig = { range: [4400, 4499], maxLagSeconds: 10, leaseMs: 10_000, intervalMs: 2000, pushDeadlineMs: 2000 };

// An endpoint whose router reports no server to send a session to, since when (alert rules).
export interface EndpointNotice {
  name: string;
  kind: EndpointKind;
  // The cluster's name, or the standalone instance's id.
  owner: string;
  node: string;
  port: number;
  sinceMs: number;
}

// Keeps, per endpoint, when its router first reported it without a ready server; one that has
// a server again is forgotten.
export function noteBackends(since: Map<string, number>, stats: { name: string; serversReady: number }[], now: number): void {
  for (const f of stats) {
    if (f.serversReady > 0) since.delete(f.name);
    else if (!since.has(f.name)) since.set(f.name, now);
  }
}

// A router whose agent has not been heard for longer than this (more than two heartbeats, sent
// every 2 s) is not waited for by `route`: it fails closed by its lease and the reconcile loop
// catches it up when it answers. Waiting would add the push deadline to the write outage of every
// move while a router's host is down, twice for a failover (closed, then opened); with two routers
// per endpoint, one of them often shares the failed primary's host.
export const SILENT_ROUTER_MS = 5000;

// The routers `route` waits for (pure): those heard from recently. A node never heard from
// (no heartbeat known) is waited for: silence is only judged from a heartbeat.
export function routersToAwait(nodes: string[], lastHeartbeatMs: (node: string) => number | undefined, now: number): string[] {
  return nodes.filter((n) => {
    const beat = lastHeartbeatMs(n);
    return !beat || now - beat <= SILENT_ROUTER_MS;
  });
}

// Overrides an operation forgot (a crash, a bug) lapse after this: the store is the truth then.
const OVERRIDE_TTL_MS = 5 * 60_000;

// Stable endpoints on the manager's side: allocates them (ports held in the store), computes each
// router node's routing and pushes it (ApplyRouter). Operations that move a primary call
// `route` at the moments the switch must happen; a reconcile loop pushes everything again every
// interval, so a router that missed a push catches up when it answers.
export class EndpointRouter {
  private readonly overrides = new Map<string, { to: RouteTarget; atMs: number }>();
  private generation = Date.now() * 1000;
  private timer?: NodeJS.Timeout;
  private known = new Set<string>();
  readonly lastStats = new Map<string, ApplyRouterResponse__Output['stats']>();
  // Since when each endpoint has had no server to send a session to (its router said so).
  private readonly noBackendSince = new Map<string, number>();

  constructor(
    private readonly d: { fleet: FleetState; agents: Pick<AgentPool, 'for'>; replication?: ReplicationMap; log: Logger },
    readonly cfg: EndpointConfig = DEFAULT_ENDPOINTS,
  ) {}

  start(): void {
    const tick = () => void this.reconcile().finally(() => (this.timer = setTimeout(tick, this.cfg.intervalMs).unref()));
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  // rw of a cluster (or the endpoint of a standalone instance: `owner` is its id) to this
  // instance or address (null: nowhere, closed), pushed to its routers now. Resolves once every
  // router answered or the deadline passed: a router that did not answer closes by its lease,
  // and the next reconcile brings it up to date.
  async route(owner: string, to: RouteTarget): Promise<{ unanswered: string[] }> {
    this.overrides.set(owner, { to, atMs: Date.now() });
    const nodes = this.nodesOf(owner);
    const wait = new Set(routersToAwait(nodes, (n) => this.d.fleet.snapshot.get(n)?.lastHeartbeatMs, Date.now()));
    const results = await Promise.all(nodes.map((n) => {
      const pushed = this.push(n).then(() => undefined, () => n);
      return wait.has(n) ? pushed : n;
    }));
    return { unanswered: results.filter((n): n is string => !!n) };
  }

  // The operation is done: the store says where the primary (the instance) is again.
  release(owner: string): void {
    this.overrides.delete(owner);
    void Promise.all(this.nodesOf(owner).map((n) => this.push(n).catch(() => undefined)));
  }

  private nodesOf(owner: string): string[] {
    const s = this.d.fleet.store.endpoints;
    return [...new Set([...s.ofCluster(owner), ...s.ofInstance(owner)].map((e) => e.node))];
  }

  async reconcile(): Promise<void> {
    try {
      this.allocate();
    } catch (err) {
      this.d.log.warn({ err: errorMessage(err) }, 'endpoints: allocation failed');
    }
    const nodes = new Set([...this.d.fleet.store.endpoints.all().map((e) => e.node), ...this.known]);
    await Promise.all([...nodes].map((n) => this.push(n).catch((err) => this.d.log.debug({ node: n, err: errorMessage(err) }, 'endpoints: router did not take its routing'))));
  }

  // New clusters and standalone instances get their endpoints; those of deleted ones go (their
  // ports with them). One transaction: a port is never held twice nor left held.
  allocate(): void {
    const s = this.d.fleet.store;
    s.tx(() => {
      const instances = s.instances.all();
      const nodes = s.nodes.all().map((n) => ({ ...n, busyPorts: [...n.busyPorts, ...instances.filter((i) => i.node === n.name).map((i) => i.port)] }));
      const plan = planEndpoints({ clusters: s.clusters.all().map((c) => c.name), standalone: instances.filter((i) => !i.clusterName).map((i) => i.id), nodes, endpoints: s.endpoints.all(), range: this.cfg.range });
      for (const name of plan.remove) s.endpoints.remove(name);
      for (const e of plan.add) s.endpoints.insert(e);
      if (plan.unplaced.length) this.d.log.warn({ unplaced: plan.unplaced }, 'endpoints: not placed');
    });
  }

  private async push(node: string): Promise<ApplyRouterResponse__Output> {
    const frontends = desiredFor(node, { endpoints: this.d.fleet.store.endpoints.all(), members: this.members(), overrides: this.liveOverrides(), maxLagSeconds: this.cfg.maxLagSeconds });
    const r = await this.d.agents.for(node).applyRouter({ generation: ++this.generation, frontends, leaseMs: this.cfg.leaseMs }, this.cfg.pushDeadlineMs);
    if (frontends.length) this.known.add(node);
    else this.known.delete(node);
    this.lastStats.set(node, r.stats);
    noteBackends(this.noBackendSince, r.stats, Date.now());
    return r;
  }

  // For the alert rules: each endpoint its router reports without a backend, and since when.
  noBackends(): EndpointNotice[] {
    const live = new Map(this.d.fleet.store.endpoints.all().map((e) => [e.name, e]));
    const out: EndpointNotice[] = [];
    for (const [name, sinceMs] of this.noBackendSince) {
      const e = live.get(name);
      if (e) out.push({ name, kind: e.kind, owner: e.clusterName || e.instanceId, node: e.node, port: e.port, sinceMs });
      else this.noBackendSince.delete(name);
    }
    return out;
  }

  private liveOverrides(): Map<string, RouteTarget> {
    const out = new Map<string, RouteTarget>();
    for (const [c, o] of this.overrides) {
      if (Date.now() - o.atMs > OVERRIDE_TTL_MS) this.overrides.delete(c);
      else out.set(c, o.to);
    }
    return out;
  }

  private members(): Member[] {
    const hosts = new Map(this.d.fleet.store.nodes.all().map((n) => [n.name, n.host]));
    return this.d.fleet.store.instances.all().map((i) => {
      const r = this.d.replication?.get(i.id)?.state;
      const lag = r && r.configured && r.ioRunning && r.sqlRunning ? Number(r.secondsBehind) : undefined;
      return { id: i.id, host: hosts.get(i.node) ?? '', port: i.port, clusterName: i.clusterName, role: i.clusterRole, fenced: i.fenced, running: i.state === 'running', lagSeconds: lag };
    });
  }

  endpointsOfCluster(cluster: string): EndpointRow[] {
    return this.d.fleet.store.endpoints.ofCluster(cluster);
  }
}
