import { describe, expect, it } from 'vitest';
import { computeCapacity } from '../capacity/compute';
import { UsageMap } from '../state/usage';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { Store } from '../store/index';
import { Metrics } from './metrics';

describe('/metrics cost', () => {
  // /metrics answers without a token: a flood of scrapes must not mean a fleet-wide capacity
  // report per scrape on the event loop.
  it('makes a capacity report at most once per interval, however often it is scraped', async () => {
    const store = Store.open(':memory:');
    let reports = 0;
    let now = 1_000_000;
    const report = () => (reports++, computeCapacity([], [], new UsageMap(), DEFAULT_SCHEDULER_CONFIG, now));
    const m = new Metrics(store, report, undefined, undefined, 5000, () => now);
    for (let i = 0; i < 20; i++) expect((await m.render()).body).toContain('berth_nodes 0');
    expect(reports).toBe(1);
    now += 5000;
    await m.render();
    expect(reports).toBe(2);
    store.close();
  });

  it('counts heartbeat reports dropped for instances of other nodes', async () => {
    const store = Store.open(':memory:');
    const m = new Metrics(store, () => computeCapacity([], [], new UsageMap(), DEFAULT_SCHEDULER_CONFIG, 0));
    m.foreignReports.inc({ node: 'n2' }, 3);
    expect((await m.render()).body).toContain('berth_heartbeat_foreign_reports_total{node="n2"} 3');
    store.close();
  });
});

describe('stable endpoint gauges', () => {
  it("one series per endpoint and field from the routers' last show stat; none for an endpoint without stats", async () => {
    const store = Store.open(':memory:');
    store.endpoints.insert({ name: 'c-orders-rw', kind: 'rw', clusterName: 'orders', instanceId: '', node: 'n1', port: 4651 });
    store.endpoints.insert({ name: 'c-orders-ro', kind: 'ro', clusterName: 'orders', instanceId: '', node: 'n2', port: 4651 });
    const m = new Metrics(store, () => computeCapacity([], [], new UsageMap(), DEFAULT_SCHEDULER_CONFIG, 0));
    const lastStats = new Map([['n1', [{ name: 'c-orders-rw', status: 'OPEN', currentSessions: 3, totalSessions: 40, bytesIn: 1000, bytesOut: 5000, errors: 1, serversReady: 0 }]]]);
    m.watchEndpoints({ lastStats });
    const body = (await m.render()).body;
    expect(body).toContain('berth_endpoint_current_sessions{endpoint="c-orders-rw",kind="rw",node="n1"} 3');
    expect(body).toContain('berth_endpoint_servers_ready{endpoint="c-orders-rw",kind="rw",node="n1"} 0');
    expect(body).toContain('berth_endpoint_bytes_out{endpoint="c-orders-rw",kind="rw",node="n1"} 5000');
    expect(body).not.toContain('endpoint="c-orders-ro"');
    store.close();
  });
});
