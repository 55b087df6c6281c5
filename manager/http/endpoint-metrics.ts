import client from 'prom-client';
import type { Store } from '../store/index';

export interface EndpointStatsSource {
  // Per router node, HAProxy's per-frontend counters as of the last routing push.
  lastStats: Map<string, { name: string; currentSessions: number; totalSessions: number; bytesIn: number; bytesOut: number; errors: number; serversReady: number }[]>;
}

const FIELDS = [
  ['current_sessions', 'currentSessions', 'client sessions open through the endpoint now'],
  ['sessions', 'totalSessions', 'sessions through the endpoint since its HAProxy last (re)loaded'],
  ['bytes_in', 'bytesIn', 'bytes from clients since its HAProxy last (re)loaded'],
  ['bytes_out', 'bytesOut', 'bytes to clients since its HAProxy last (re)loaded'],
  ['errors', 'errors', 'request, connection and response errors since its HAProxy last (re)loaded'],
  ['servers_ready', 'serversReady', 'servers the endpoint may send a new session to (0: it refuses connections)'],
] as const;

// Gauges per stable endpoint, from HAProxy's `show stat` as the manager last received it
// (every routing push, 2 s): filled at scrape time, so a scrape never calls a router.
export function registerEndpointGauges(r: client.Registry, store: Store, source: EndpointStatsSource): void {
  for (const [metric, field, help] of FIELDS) {
    new client.Gauge({
      name: `berth_endpoint_${metric}`,
      help: `${help} (HAProxy show stat, as of the last routing push)`,
      labelNames: ['endpoint', 'kind', 'node'],
      registers: [r],
      collect() {
        this.reset();
        for (const e of store.endpoints.all()) {
          const s = source.lastStats.get(e.node)?.find((x) => x.name === e.name);
          if (s) this.set({ endpoint: e.name, kind: e.kind, node: e.node }, s[field]);
        }
      },
    });
  }
}
