import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { NodeSnapshot, SchedulerConfig } from '../scheduler/types';
import type { CapacitySample, Scope } from '../store/capacity-history';
import type { Store } from '../store/index';
import { NO_LABEL, type CapacityReport, type GroupCapacity } from './compute';
import { cloneNodes } from './fit';
import type { FitPool } from './fit-pool';
import { commonShapes, forecast, type Forecast } from './forecast';

const MINUTE = 60_000;
const HOUR = 3_600_000;
export const KEEP_MINUTES_MS = 24 * HOUR;
export const KEEP_HOURS_MS = 90 * 24 * HOUR;
// The trend behind a forecast: the last two weeks of hourly points (the last day of minutes
// while there are fewer than a day of hours).
const TREND_WINDOW_MS = 14 * 24 * HOUR;
const FORECAST_EVERY_MS = 10 * MINUTE;

// Pure: the fleet's and each zone's figures of a capacity report, as samples at `at`.
export function samplesOf(r: CapacityReport, at: string): CapacitySample[] {
  const one = (scope: Scope, name: string, g: GroupCapacity): CapacitySample => ({
    at, scope, name, instances: g.instances.total,
    cpu: { capacity: g.cpu.capacity, allocated: g.cpu.allocated, used: g.cpu.used },
    memory: { capacity: g.memory.capacity, allocated: g.memory.allocated, used: g.memory.used },
    disk: { capacity: g.disk.capacity, allocated: g.disk.allocated, used: g.disk.used },
  });
  return [one('fleet', '', r.fleet), ...r.zones.map((z) => one('zone', z.zone, z))];
}

// Pure: one series' minute samples of an hour, as that hour's sample (the mean of each figure).
export function rollup(samples: CapacitySample[], hourStart: string): CapacitySample {
  const n = samples.length;
  const mean = (f: (s: CapacitySample) => number) => samples.reduce((a, s) => a + f(s), 0) / n;
  const res = (k: 'cpu' | 'memory' | 'disk') => ({ capacity: mean((s) => s[k].capacity), allocated: mean((s) => s[k].allocated), used: mean((s) => s[k].used) });
  return { at: hourStart, scope: samples[0]!.scope, name: samples[0]!.name, instances: mean((s) => s.instances), cpu: res('cpu'), memory: res('memory'), disk: res('disk') };
}

export interface RecorderDeps {
  store: Store;
  report: () => CapacityReport;
  nodes: () => Iterable<NodeSnapshot>;
  scheduler: SchedulerConfig;
  pool: FitPool;
  log: Logger;
}

// Writes the capacity history (a sample a minute; each finished hour rolled up into one; old
// points dropped) and keeps the latest forecast for the admin API and the alert rule.
export class CapacityRecorder {
  private timer?: NodeJS.Timeout;
  private latest: Forecast[] = [];
  private forecastAt = 0;
  private instancesAt = -1;

  constructor(private readonly d: RecorderDeps) {}

  // A first sample at once (the dashboard has a point to show), then one a minute.
  start(): void {
    const tick = () => void this.tick().catch((err: unknown) => this.d.log.warn({ err: errorMessage(err) }, 'capacity history: sample failed'));
    this.timer = setInterval(tick, MINUTE);
    this.timer.unref();
    tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    void this.d.pool.close();
  }

  forecasts(): Forecast[] {
    return this.latest;
  }

  // For a reader that wants it current: made over a minute ago, or before the number of
  // instances changed (a first forecast made on an empty fleet says nothing).
  stale(now = Date.now()): boolean {
    return now - this.forecastAt > MINUTE || this.d.store.instances.all().length !== this.instancesAt;
  }

  async tick(now = Date.now()): Promise<void> {
    this.sample(now);
    if (now - this.forecastAt >= FORECAST_EVERY_MS) await this.refreshForecast(now);
  }

  sample(now: number): void {
    const h = this.d.store.capacityHistory;
    h.putMany('1m', samplesOf(this.d.report(), new Date(Math.floor(now / MINUTE) * MINUTE).toISOString()));
    // Every hour before this one that has minutes but no hour row yet is rolled up (a manager
    // that was down for a while catches up on what it has).
    const thisHour = Math.floor(now / HOUR) * HOUR;
    const lastHour = Date.parse(h.latest('1h') ?? '') || thisHour - KEEP_MINUTES_MS;
    for (let t = lastHour + HOUR; t < thisHour; t += HOUR) {
      const from = new Date(t).toISOString();
      const to = new Date(t + HOUR).toISOString();
      const rows = h.series('1m').map((s) => h.range('1m', s.scope, s.name, from, to)).filter((r) => r.length);
      if (rows.length) h.putMany('1h', rows.map((r) => rollup(r, from)));
    }
    h.prune('1m', new Date(now - KEEP_MINUTES_MS).toISOString());
    h.prune('1h', new Date(now - KEEP_HOURS_MS).toISOString());
  }

  // The fleet and each zone: their history's trend and the fit of their common shapes now, on a
  // worker thread (the real scheduler, as /v1/capacity/fit).
  async refreshForecast(now = Date.now()): Promise<Forecast[]> {
    this.forecastAt = now;
    const h = this.d.store.capacityHistory;
    const from = new Date(now - TREND_WINDOW_MS).toISOString();
    const to = new Date(now + 1).toISOString();
    const instances = this.d.store.instances.all();
    this.instancesAt = instances.length;
    const zoneOf = new Map([...this.d.nodes()].map((n) => [n.name, n.labels.zone ?? NO_LABEL]));
    const out: Forecast[] = [];
    // Nodes without a zone label are in the fleet's forecast only: a fit cannot be held to them.
    for (const s of h.series('1m').filter((x) => x.name !== NO_LABEL)) {
      const hours = h.range('1h', s.scope, s.name, from, to);
      const history = hours.length >= 24 ? hours : h.range('1m', s.scope, s.name, from, to);
      const mine = s.scope === 'fleet' ? instances : instances.filter((i) => zoneOf.get(i.node) === s.name);
      const shapes = commonShapes(mine).map((sh) => (s.scope === 'zone' ? { ...sh, zone: s.name } : sh));
      const fits = shapes.length ? await this.d.pool.run(() => ({ nodes: cloneNodes(this.d.nodes()), shapes, now, config: this.d.scheduler })) : [];
      out.push(forecast(s.scope, s.name, history, fits));
    }
    this.latest = out;
    return out;
  }
}
