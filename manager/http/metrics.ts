import client from 'prom-client';
import type { CapacityReport, NodeCapacity } from '../capacity/compute';
import type { Store } from '../store/index';
import type { TargetStatus } from '../backups/status';
import { registerBackupGauges } from './backup-metrics';
import { registerEndpointGauges, type EndpointStatsSource } from './endpoint-metrics';

export const DEFAULT_REPORT_EVERY_MS = 5000;

// Prometheus exposition of the manager. Gauges are filled at scrape time from the same capacity
// report the API serves, so the two never disagree; counters and histograms follow the store.
export class Metrics {
  readonly registry = new client.Registry();
  readonly schedulerSeconds: client.Histogram<'result'>;
  readonly fitSeconds: client.Histogram;
  private readonly opWatermark: { at: string; ids: Set<string> };
  private readonly findings: client.Gauge<'kind'>;
  // Per-instance reports a node sent for instances the store does not place on it (dropped).
  readonly foreignReports: client.Counter<'node'>;

  // Continuous binlog archiving (health/binlog-archiver.ts): lag and pieces per archive.
  binlogArchives(views: () => { cluster: string; lagSeconds: number; pieces: number; running: boolean }[]): void {
    const lag = new client.Gauge({ name: 'berth_binlog_archive_lag_seconds', help: 'seconds the primary has held transactions the binlog archiver had not received (0: caught up)', labelNames: ['cluster'], registers: [this.registry], collect() { lag.reset(); for (const v of views()) lag.set({ cluster: v.cluster }, v.lagSeconds); } });
    const pieces = new client.Gauge({ name: 'berth_binlog_archive_pieces', help: 'pieces of the binlog archive sealed into the repository', labelNames: ['cluster'], registers: [this.registry], collect() { pieces.reset(); for (const v of views()) pieces.set({ cluster: v.cluster }, v.pieces); } });
    const up = new client.Gauge({ name: 'berth_binlog_archiver_running', help: '1 when the binlog archiver of the cluster runs', labelNames: ['cluster'], registers: [this.registry], collect() { up.reset(); for (const v of views()) up.set({ cluster: v.cluster }, v.running ? 1 : 0); } });
  }

  constructor(
    private readonly store: Store,
    private report: () => CapacityReport,
    private readonly alerts: () => { rule: string; severity: string }[] = () => [],
    private readonly webhook: () => { delivered: number; failed: number } = () => ({ delivered: 0, failed: 0 }),
    // /metrics answers without a token: a capacity report (a walk over the whole fleet on the
    // event loop) is made at most this often, however fast anyone scrapes.
    reportEveryMs = DEFAULT_REPORT_EVERY_MS,
    now: () => number = Date.now,
  ) {
    const r = this.registry;
    this.report = cachedEvery(report, reportEveryMs, now);
    this.foreignReports = new client.Counter({ name: 'berth_heartbeat_foreign_reports_total', help: 'per-instance heartbeat reports dropped because the store does not place that instance on the reporting node', labelNames: ['node'], registers: [r] });
    this.findings = new client.Gauge({ name: 'berth_reservation_findings', help: "what the manager's start-up reservation check found, by kind", labelNames: ['kind'], registers: [r] });
    registerFleetGauges(r, this.report, alerts);
    this.opWatermark = { at: new Date().toISOString(), ids: new Set() };
    this.registerOperations(r);
    this.schedulerSeconds = new client.Histogram({
      name: 'berth_scheduler_duration_seconds',
      help: 'time one schedule() call takes when placing an instance',
      labelNames: ['result'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers: [r],
    });
    this.fitSeconds = new client.Histogram({
      name: 'berth_capacity_fit_duration_seconds',
      help: 'time one /v1/capacity/fit answer takes (many schedule() calls)',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [r],
    });
    registerFailovers(r, store);
    registerWebhook(r, webhook);
  }

  // The backup scheduler's status, per target (made after the metrics, with the engine).
  backupStatus(status: () => TargetStatus[]): void {
    registerBackupGauges(this.registry, status);
  }

  // Operations ended since the manager started: counted and timed from the store, which the
  // engine writes, so nothing in the engine needs to know about metrics.
  private registerOperations(r: client.Registry): void {
    const opsTotal = new client.Counter({ name: 'berth_operations_total', help: 'operations ended since the manager started, by type and result', labelNames: ['type', 'result'], registers: [] });
    const opsSeconds = new client.Histogram({
      name: 'berth_operation_duration_seconds',
      help: 'how long operations took, from start to end',
      labelNames: ['type', 'result'],
      buckets: [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers: [],
    });
    // Registered first so that its collect brings the counter and histogram up to date before
    // they are written out.
    const self = this;
    new client.Gauge({
      name: 'berth_operations_running',
      help: 'operations in progress',
      registers: [r],
      collect() {
        this.set(self.collectOperations(opsTotal, opsSeconds));
      },
    });
    r.registerMetric(opsTotal);
    r.registerMetric(opsSeconds);
  }

  // Stable endpoints' per-endpoint gauges (when the manager has --endpoint-ports).
  watchEndpoints(source: EndpointStatsSource): void {
    registerEndpointGauges(this.registry, this.store, source);
  }

  private readonly ended = () => this.store.operations.endedSince(this.opWatermark.at);

  private collectOperations(total: client.Counter<'type' | 'result'>, seconds: client.Histogram<'type' | 'result'>): number {
    const rows = this.ended();
    for (const o of rows) {
      if (this.opWatermark.ids.has(o.id)) continue;
      total.inc({ type: o.type, result: o.state });
      seconds.observe({ type: o.type, result: o.state }, Math.max(0, (Date.parse(o.finishedAt) - Date.parse(o.createdAt)) / 1000));
    }
    const last = rows.at(-1);
    if (last) {
      // Keep the ids ending at the watermark's instant: the next query starts there again.
      this.opWatermark.at = last.finishedAt;
      this.opWatermark.ids = new Set(rows.filter((o) => o.finishedAt === last.finishedAt).map((o) => o.id));
    }
    return this.store.operations.countActive();
  }

  // The start-up reservation check's findings (manager/state/consistency.ts), every kind present.
  reservationFindings(findings: readonly { kind: string }[]): void {
    for (const kind of ['allocation-mismatch', 'orphan-reservation', 'outside-node']) this.findings.set({ kind }, findings.filter((f) => f.kind === kind).length);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

// A capacity report made at most every `everyMs`, however often it is asked for.
function cachedEvery(report: () => CapacityReport, everyMs: number, now: () => number): () => CapacityReport {
  let cached: { at: number; rep: CapacityReport } | undefined;
  return () => {
    const t = now();
    if (!cached || t - cached.at >= everyMs || t < cached.at) cached = { at: t, rep: report() };
    return cached.rep;
  };
}

// berth_nodes and the per-node, per-disk and per-rule gauges its collect fills from one
// capacity report per scrape.
function registerFleetGauges(r: client.Registry, report: () => CapacityReport, alerts: () => { rule: string; severity: string }[]): void {
  const labels = ['node', 'zone', 'rack'] as const;
  // Registered after berth_nodes, whose collect fills them from one capacity report per scrape.
  const g = (name: string, help: string, labelNames: readonly string[]) => new client.Gauge({ name, help, labelNames, registers: [] });
  const gauges = {
    up: g('berth_node_up', '1 when the node heartbeats, 0 when it is down', labels),
    cordoned: g('berth_node_cordoned', '1 when the node takes no new instances', labels),
    cpuCap: g('berth_node_cpu_capacity_cores', 'CPU the node offers', labels),
    cpuAlloc: g('berth_node_cpu_allocated_cores', 'CPU reserved by instances on the node', labels),
    cpuUsed: g('berth_node_cpu_used_cores', 'CPU the instances on the node use (measured)', labels),
    memCap: g('berth_node_memory_capacity_bytes', 'memory the node offers', labels),
    memAlloc: g('berth_node_memory_allocated_bytes', 'memory reserved by instances on the node', labels),
    memUsed: g('berth_node_memory_used_bytes', 'memory the instances on the node use (measured)', labels),
    diskCap: g('berth_disk_capacity_bytes', 'size of a data disk', ['node', 'path']),
    diskAlloc: g('berth_disk_allocated_bytes', 'disk reserved by instances on a data disk', ['node', 'path']),
    diskUsed: g('berth_disk_used_bytes', 'used space of a data disk (filesystem, measured)', ['node', 'path']),
    diskFree: g('berth_disk_free_bytes', 'free space of a data disk (filesystem, measured)', ['node', 'path']),
    instances: g('berth_instances', 'instances per node and state', ['node', 'state']),
    alerts: g('berth_alerts_firing', 'alerts firing now, per rule and severity (deploy/prometheus/berth-alerts.yml pages on critical)', ['rule', 'severity']),
  };
  new client.Gauge({
    name: 'berth_nodes',
    help: 'nodes registered with the manager',
    registers: [r],
    collect() {
      const rep = report();
      this.set(rep.fleet.nodes.total);
      for (const x of Object.values(gauges)) x.reset();
      for (const n of rep.nodes) fillNodeGauges(gauges, n);
      const perRule = new Map<string, { rule: string; severity: string; n: number }>();
      for (const a of alerts()) {
        const k = `${a.rule}\u0000${a.severity}`;
        perRule.set(k, { rule: a.rule, severity: a.severity, n: (perRule.get(k)?.n ?? 0) + 1 });
      }
      for (const { rule, severity, n } of perRule.values()) gauges.alerts.set({ rule, severity }, n);
    },
  });
  for (const x of Object.values(gauges)) r.registerMetric(x);
}

function fillNodeGauges(gauges: Record<'up' | 'cordoned' | 'cpuCap' | 'cpuAlloc' | 'cpuUsed' | 'memCap' | 'memAlloc' | 'memUsed' | 'diskCap' | 'diskAlloc' | 'diskUsed' | 'diskFree' | 'instances', client.Gauge>, n: NodeCapacity): void {
  const cores = (m: number) => m / 1000;
  const l = { node: n.name, zone: n.zone, rack: n.rack };
  gauges.up.set(l, n.state === 'ready' ? 1 : 0);
  gauges.cordoned.set(l, n.cordoned ? 1 : 0);
  gauges.cpuCap.set(l, cores(n.cpu.capacity));
  gauges.cpuAlloc.set(l, cores(n.cpu.allocated));
  gauges.cpuUsed.set(l, cores(n.cpu.used));
  gauges.memCap.set(l, n.memory.capacity);
  gauges.memAlloc.set(l, n.memory.allocated);
  gauges.memUsed.set(l, n.memory.used);
  for (const d of n.disks) {
    const dl = { node: n.name, path: d.path };
    gauges.diskCap.set(dl, d.totalBytes);
    gauges.diskAlloc.set(dl, d.allocatedBytes);
    gauges.diskUsed.set(dl, d.usedBytes);
    gauges.diskFree.set(dl, d.freeBytes);
  }
  for (const [state, c] of Object.entries(n.instances.byState)) gauges.instances.set({ node: n.name, state }, c);
}

function registerFailovers(r: client.Registry, store: Store): void {
  // One `cluster.failover.done` event per completed failover (FleetState.recordClusterHistory).
  const failovers = () => store.events.countOfKind('cluster.failover.done');
  let failoversSeen = failovers();
  new client.Counter({
    name: 'berth_failovers_total',
    help: 'failovers carried out since the manager started',
    registers: [r],
    collect() {
      const n = failovers();
      if (n > failoversSeen) this.inc(n - failoversSeen);
      failoversSeen = n;
    },
  });
}

function registerWebhook(r: client.Registry, webhook: () => { delivered: number; failed: number }): void {
  let delivered = 0;
  let failed = 0;
  new client.Counter({
    name: 'berth_alert_webhook_deliveries_total',
    help: 'alert webhook deliveries, by result',
    labelNames: ['result'],
    registers: [r],
    collect() {
      const w = webhook();
      if (w.delivered > delivered) this.inc({ result: 'delivered' }, w.delivered - delivered);
      if (w.failed > failed) this.inc({ result: 'failed' }, w.failed - failed);
      delivered = w.delivered;
      failed = w.failed;
    },
  });
}
