import type { EndpointRouter } from '../endpoints/router';
import type { Logger } from '../../src/log';
import type { TlsFiles } from '../../src/tls/credentials';
import type { CapacityReport } from '../capacity/compute';
import type { CapacityRecorder } from '../capacity/history';
import type { ViewDeps } from '../api/cluster-view';
import type { Expander } from '../expansion/expander';
import type { TargetStatus } from '../backups/status';
import type { Engine } from '../operations/engine';
import type { AlertManager } from '../health/alerts/manager';
import type { WebhookSender } from '../health/alerts/webhook';
import type { UsageMap } from '../state/usage';
import type { Snapshot } from '../scheduler/snapshot';
import type { SchedulerConfig } from '../scheduler/types';
import type { Store } from '../store/index';
import type { TokensTable } from '../store/tokens';
import type { Metrics } from './metrics';

// What the admin HTTP server is built from (AdminDeps) and what its routes see (AdminContext):
// in their own file so the routes do not import the server that registers them.
export interface AdminDeps {
  store: Store;
  snapshot: Snapshot;
  usage: UsageMap;
  scheduler: SchedulerConfig;
  log: Logger;
  // Bearer token; undefined: no authentication (the caller binds to loopback only).
  token?: string;
  // Portal tokens (shared role model): GET routes need viewer, actions operator.
  tokens?: TokensTable;
  // Require a token even without --admin-token (the server is reachable off loopback).
  requireAuth?: boolean;
  // Host header values (names without port) this server answers to; empty: any.
  allowedHosts?: string[];
  // The manager's certificate files; served as HTTPS when `https` holds their contents.
  tls?: TlsFiles;
  https?: { key: Buffer; cert: Buffer; ca: Buffer };
  alerts?: AlertManager;
  webhook?: WebhookSender;
  metrics?: Metrics;
  now?: () => number;
  // Operations (drain then migrates instead of refusing), and the automatic expansion's
  // decisions (GET /v1/expansions).
  engine?: Engine;
  expander?: Expander;
  // Replicated clusters' views ask members' agents for their replication status.
  agents?: ViewDeps['agents'];
  // A cluster's PROBLEM while no member takes writes (the cluster reconciler).
  clusterProblem?: ViewDeps['problem'];
  // The backup scheduler's status per policy target (GET /v1/backups/status).
  backupStatus?: () => TargetStatus[];
  // The capacity history's latest forecast (GET /v1/capacity/forecast).
  capacityHistory?: Pick<CapacityRecorder, 'forecasts' | 'refreshForecast' | 'stale'>;
  // Stable endpoints' routers: HAProxy's own counters as last pushed (GET /v1/endpoints).
  endpoints?: Pick<EndpointRouter, 'lastStats'>;
  // The backup repository (--backup-repository, as shown: no secret) and the free space where
  // it can be measured (a dir: repository's file system; undefined for object storage).
  backupRepository?: { spec: string; freeBytes: () => Promise<number | undefined> };
}

export interface AdminContext extends AdminDeps {
  now: () => number;
  metrics: Metrics;
  capacity: () => CapacityReport;
}
