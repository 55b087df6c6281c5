import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Command, InvalidArgumentError } from 'commander';
import { hostPortOpt, logFormatOption, portRangeOpt, secondsOpt } from '../src/cliopts';
import type { LogFormat } from '../src/logformat';
import { VERSION } from '../src/version';
import { runMain, stopOnSignals } from '../src/lifecycle';
import { createLogger } from '../src/log';
import { bindServer, SERVER_OPTIONS } from '../src/rpc';
import { filesIn, serverCredentials, type TlsFiles } from '../src/tls/credentials';
import { chooseAdminToken, syncAdminTokenRow } from './auth/admin-token';
import { RevocationState } from './state/revocations';
import { openSecrets } from './auth/secret-key';
import { AgentPool } from './agents/pool';
import { addPortal } from './api/portal';
import { addRegistry } from './api/registry';
import { computeCapacity } from './capacity/compute';
import { AlertManager } from './health/alerts/manager';
import { DEFAULT_RULES } from './health/alerts/rules/index';
import { DEFAULT_THRESHOLDS } from './health/alerts/types';
import { DEFAULT_WEBHOOK, WebhookSender } from './health/alerts/webhook';
import { UsageMap } from './state/usage';
import { ReplicationMap } from './state/replication';
import { DEFAULT_ENDPOINTS, EndpointRouter } from './endpoints/router';
import { DEFAULT_DETECTION } from './health/detect';
import { ClusterReconciler, DEFAULT_RECONCILER } from './health/reconciler';
import { BinlogArchiveReconciler } from './health/binlog-archiver';
import { DEFAULT_FAILOVER, type OperationDeps } from './operations/deps';
import { registerOperationTypes } from './operations/index';
import { startAdminServer } from './http/listen';
import { CapacityRecorder } from './capacity/history';
import { FitPool } from './capacity/fit-pool';
import { Metrics } from './http/metrics';
import { Expander } from './expansion/expander';
import { BackupScheduler } from './backups/scheduler';
import type { TargetStatus } from './backups/status';
import { DEFAULT_POLICY, type AutoExpandMode } from './expansion/policy';
import { Engine } from './operations/engine';
import { BackupOps } from './operations/backups';
import { formatRepository, loadRepositoryKey, parseRepository } from '../src/backup/repository';
import { loadS3Credentials, openRepository } from '../src/backup/open-repository';
import { FleetState } from './state/fleet';
import { checkReservationsAtStart } from './state/consistency';
import { alertInstances } from './state/watched';
import { InstanceTlsState } from './state/instance-tls';
import { GrantSigner, grantIssuerFor, setBackupGrantIssuer } from '../src/tls/grant';
import { STRATEGIES } from './scheduler/strategies/index';
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from './scheduler/types';
import { Store } from './store/index';
import { DEFAULT_GALERA_PORT_OFFSET } from './clusters/galera';
import { DEFAULT_LEASE, Leadership } from './leader/leadership';
import { addFollowerServices } from './api/follower';

function ratioOpt(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 1 || n > 100) throw new InvalidArgumentError(`want a ratio of at least 1, got "${v}"`);
  return n;
}
function countOpt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`want a whole number >= 0, got "${v}"`);
  return n;
}
function weightOpt(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || Math.abs(n) > 1000) throw new InvalidArgumentError(`want a number between -1000 and 1000, got "${v}"`);
  return n;
}
function galeraOffsetOpt(v: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > 20000) throw new InvalidArgumentError(`want a whole number between 1 and 20000, got "${v}"`);
  return n;
}
function autoExpandOpt(v: string): AutoExpandMode {
  if (v !== 'off' && v !== 'plan' && v !== 'on') throw new InvalidArgumentError(`want off, plan or on, got "${v}"`);
  return v;
}
function strategyOpt(v: string): string {
  if (!Object.hasOwn(STRATEGIES, v)) throw new InvalidArgumentError(`want one of ${Object.keys(STRATEGIES).join(', ')}, got "${v}"`);
  return v;
}

const program = new Command('berth-manager')
  .description('berth manager: the portal gRPC API, the scheduler and the operations engine')
  .option('--listen <host:port>', 'gRPC address of the Portal API (berthctl, the DBA portal)', hostPortOpt, '127.0.0.1:7400')
  .option('--registry-listen <host:port>', 'gRPC address agents register and heartbeat on', hostPortOpt, process.env.BERTH_REGISTRY_LISTEN ?? '127.0.0.1:7402')
  .option('--tls-dir <dir>', 'CA and manager certificate made by berthctl certs init (default: <state-dir>/tls)')
  .option('--insecure', 'plaintext gRPC without certificates (a warning is logged at every start)')
  .option('--secret-key-file <file>', 'AES-256-GCM key sealing admin passwords in the store; keep it apart from backups of the database (default: <state-dir>/secret.key)')
  .option('--retention-days <days>', 'events and ended operations older than this are deleted (hourly)', Number, 30)
  .option('--rotate-secret-key', 'make a new secret key, re-seal every stored password with it, then go on serving')
  .option('--state-dir <dir>', 'where the SQLite store lives', process.env.BERTH_STATE_DIR ?? '.berth')
  .option('--image <ref>', 'default image for new instances (or BERTH_IMAGE; default: --mariadb-image)', process.env.BERTH_IMAGE)
  .option('--mysql-image <ref>', 'image for instances created with flavor mysql (or BERTH_MYSQL_IMAGE)', process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7')
  .option('--mariadb-image <ref>', 'image for instances created with flavor mariadb (or BERTH_MARIADB_IMAGE)', process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11')
  .option('--admin-user <name>', 'MySQL admin user created in each instance', 'admin')
  .option('--node-timeout <seconds>', 'a node silent this long is down', secondsOpt, DEFAULT_SCHEDULER_CONFIG.nodeTimeoutMs / 1000)
  .option('--cpu-overcommit <ratio>', 'CPU overcommit ratio (DBA fleets often sell CPU 2-3x)', ratioOpt, DEFAULT_SCHEDULER_CONFIG.cpuOvercommit)
  .option('--memory-overcommit <ratio>', 'memory overcommit ratio (1: never oversold)', ratioOpt, DEFAULT_SCHEDULER_CONFIG.memoryOvercommit)
  .option('--strategy <name>', 'default placement strategy: spread, binpack or weighted', strategyOpt, DEFAULT_SCHEDULER_CONFIG.strategy)
  .option('--max-instances-per-node <n>', 'at most this many instances on one node (0: no limit)', countOpt, DEFAULT_SCHEDULER_CONFIG.maxInstancesPerNode)
  .option('--weight-cpu <w>', 'weighted strategy: weight of CPU (negative spreads it)', weightOpt, DEFAULT_SCHEDULER_CONFIG.weights.cpu)
  .option('--weight-memory <w>', 'weighted strategy: weight of memory', weightOpt, DEFAULT_SCHEDULER_CONFIG.weights.memory)
  .option('--weight-disk <w>', 'weighted strategy: weight of disk', weightOpt, DEFAULT_SCHEDULER_CONFIG.weights.disk)
  .option('--admin-listen <host:port>', 'admin HTTP address: capacity, dashboard, metrics, docs', hostPortOpt, '127.0.0.1:7480')
  .option('--admin-token <token>', 'bearer token for the admin HTTP API (or BERTH_ADMIN_TOKEN); default: the one in <state-dir>/admin-token, made on the first start')
  .option('--admin-unauthenticated', 'serve the admin HTTP API without a token, on loopback only (warns at every start)')
  .option('--admin-hosts <names>', 'comma-separated Host header names the admin HTTP server answers to (others get 421)', (v) => v.split(',').map((x) => x.trim()).filter(Boolean), [] as string[])
  .option('--alert-webhook <url>', 'POST each alert start and resolve here as JSON (with retries)')
  .option('--alert-interval <seconds>', 'how often alert rules are evaluated', secondsOpt, 10)
  .option('--alert-disk-free-pct <pct>', 'alert when a data disk has less free space than this', Number, DEFAULT_THRESHOLDS.diskFreePct)
  .option('--alert-instance-disk-pct <pct>', "alert when an instance uses more than this share of its disk reservation", Number, DEFAULT_THRESHOLDS.instanceDiskPct)
  .option('--alert-replication-lag <seconds>', 'alert when a replica is further behind its source than this', secondsOpt, DEFAULT_THRESHOLDS.replicationLagSeconds)
  .option('--alert-capacity-days <days>', "alert when a zone's common shapes run out within this many days at the recent growth (0: never)", Number, DEFAULT_THRESHOLDS.capacityRunwayDays)
  .option('--alert-webhook-attempts <n>', 'delivery attempts per alert notice', Number, DEFAULT_WEBHOOK.attempts)
  .option('--auto-expand <mode>', 'automatic expansion from measured usage: off, plan (decide and list only) or on', autoExpandOpt, DEFAULT_POLICY.mode)
  .option('--auto-expand-interval <seconds>', 'how often usage is checked for expansion', secondsOpt, 10)
  .option('--expand-disk-pct <pct>', 'grow a disk reservation when its data passes this share', Number, DEFAULT_POLICY.diskHighPct)
  .option('--expand-disk-grow <ratio>', 'grow a disk reservation by this share of itself', Number, DEFAULT_POLICY.diskGrowBy)
  .option('--expand-memory-pct <pct>', 'next memory step when memory use stays above this share of the limit', Number, DEFAULT_POLICY.memoryHighPct)
  .option('--expand-memory-sustain <seconds>', '... for this long', secondsOpt, DEFAULT_POLICY.memorySustainMs / 1000)
  .option('--expand-cooldown <seconds>', 'no second automatic change to an instance within this long', secondsOpt, DEFAULT_POLICY.cooldownMs / 1000)
  .option('--max-migrations-per-node <n>', 'automatic migrations off one node at a time', countOpt, DEFAULT_POLICY.maxMigrationsPerNode)
  .option('--max-migrations <n>', 'automatic migrations in the fleet at a time', countOpt, DEFAULT_POLICY.maxMigrationsFleet)
  .option('--disk-pressure-free-pct <pct>', 'move instances off a data disk with less real free space than this', Number, DEFAULT_POLICY.diskPressureFreePct)
  .option('--repair-reservations', 'at start-up, mark failed the reservations no operation is working on (default: report them only, as log lines, events and a metric)')
  .option('--galera-port-offset <n>', "a Galera member's group communication, IST and SST ports are its instance port plus 1, 2 and 3 times this (nodes' port ranges must be narrower)", galeraOffsetOpt, DEFAULT_GALERA_PORT_OFFSET)
  .option('--mysql-require-tls', 'new instances require TLS from their clients (require_secure_transport; every node needs its MySQL certificate)')
  .option('--endpoint-ports <min-max>', 'stable endpoints on router nodes (label router=true, or every node when none has it) get ports in this range; without it there are none', portRangeOpt)
  .option('--endpoint-max-lag <seconds>', 'a replica further behind than this serves no reads through its cluster\'s read-only endpoint', secondsOpt, DEFAULT_ENDPOINTS.maxLagSeconds)
  .option('--endpoint-lease <seconds>', 'a router not refreshed by the manager this long closes its endpoints', secondsOpt, DEFAULT_ENDPOINTS.leaseMs / 1000)
  .option('--drain-concurrency <n>', 'migrations a drain runs at a time', countOpt, 2)
  .option('--failover <on|off>', 'automatic failover of cluster primaries', (v) => v !== 'off', true)
  .option('--failover-agent-silent <seconds>', "a primary's agent not heard from this long is silent (then the manager probes mysqld and asks the replicas)", secondsOpt, DEFAULT_DETECTION.agentSilentMs / 1000)
  .option('--failover-mysqld-down <seconds>', 'mysqld must not have answered its agent this long', secondsOpt, DEFAULT_DETECTION.mysqldDownMs / 1000)
  .option('--failover-probe-fail <seconds>', "the manager's own probe of mysqld must fail this long", secondsOpt, DEFAULT_DETECTION.probeFailMs / 1000)
  .option('--failover-period <seconds>', 'no second automatic failover of a cluster within this long unless a DBA acknowledges the first', secondsOpt, DEFAULT_RECONCILER.periodMs / 1000)
  .option('--backup-repository <spec>', 'where backups are kept: dir:/path (a local disk or an NFS share every host mounts at the same path) or s3://bucket[/prefix][?endpoint=URL&region=NAME] (S3-compatible object storage); without it backups are refused')
  .option('--backup-s3-credentials-file <file>', 'an s3: repository\'s access key (0600; lines BERTH_S3_ACCESS_KEY=… and BERTH_S3_SECRET_KEY=…, or JSON {accessKeyId, secretAccessKey}); sent to agents with each backup request, never stored')
  .option('--backup-key-file <file>', 'AES-256-GCM key sealing each backup\'s data key; a new manager needs it to read old backups: keep a copy apart from the repository (default: <state-dir>/backup.key)')
  .option('--backup-rate <bytes/s>', 'default bandwidth of a backup (0: unlimited)', Number, 0)
  .option('--backup-scheduler-interval <seconds>', 'how often backup policies are checked for due backups, retention and drills', secondsOpt, 10)
  .option('--backup-max-drills <n>', 'restore drills running at once, fleet-wide (each restores an instance into spare capacity)', Number, 1)
  .option('--backup-drill-sample <n>', 'tables per drill counted and checksummed (every table is CHECKed)', Number, 5)
  .option('--alert-backup-verified-hours <hours>', 'alert when a backup policy\'s target has no backup verified by a drill this recently (0: never)', Number, DEFAULT_THRESHOLDS.backupVerifiedHours)
  .option('--store <file>', 'the SQLite store (default: <state-dir>/berth.db); managers sharing one file elect one leader')
  .option('--advertise <host:port>', 'portal address clients are sent to when this manager leads (default: --listen)', hostPortOpt)
  .option('--registry-advertise <host:port>', 'registry address agents are sent to when this manager leads (default: --registry-listen)', hostPortOpt)
  .option('--manager-id <id>', 'this manager\'s name in the leader lease (default: <hostname>/<advertise>)')
  .option('--leader-lease <seconds>', 'a leader that has not renewed its lease this long is replaced by a follower', secondsOpt, DEFAULT_LEASE.leaseMs / 1000)
  .option('--leader-renew <seconds>', 'how often the leader renews its lease and followers try to take it', secondsOpt, DEFAULT_LEASE.renewMs / 1000)
  .option('--write-lease <seconds>', "an agent that cannot reach the manager this long makes its cluster primaries read-only (0: never); below --failover-agent-silent", Number, DEFAULT_RECONCILER.leaseMs / 1000)
  .addOption(logFormatOption())
  .version(VERSION)
  .parse();

const o = program.opts<{
  listen: string;
  registryListen: string;
  tlsDir?: string;
  insecure?: boolean;
  secretKeyFile?: string;
  backupRepository?: string;
  backupKeyFile?: string;
  backupS3CredentialsFile?: string;
  backupRate: number;
  backupSchedulerInterval: number;
  backupMaxDrills: number;
  backupDrillSample: number;
  alertBackupVerifiedHours: number;
  rotateSecretKey?: boolean;
  retentionDays: number;
  stateDir: string;
  image?: string;
  mysqlImage: string;
  mariadbImage: string;
  adminUser: string;
  nodeTimeout: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
  strategy: string;
  maxInstancesPerNode: number;
  weightCpu: number;
  weightMemory: number;
  weightDisk: number;
  adminListen: string;
  adminToken?: string;
  adminUnauthenticated?: boolean;
  adminHosts: string[];
  alertWebhook?: string;
  alertInterval: number;
  alertDiskFreePct: number;
  alertInstanceDiskPct: number;
  alertWebhookAttempts: number;
  alertReplicationLag: number;
  alertCapacityDays: number;
  autoExpand: AutoExpandMode;
  autoExpandInterval: number;
  expandDiskPct: number;
  expandDiskGrow: number;
  expandMemoryPct: number;
  expandMemorySustain: number;
  expandCooldown: number;
  maxMigrationsPerNode: number;
  maxMigrations: number;
  diskPressureFreePct: number;
  drainConcurrency: number;
  endpointPorts?: [number, number];
  endpointMaxLag: number;
  endpointLease: number;
  mysqlRequireTls?: boolean;
  galeraPortOffset: number;
  repairReservations?: boolean;
  failover: boolean;
  failoverAgentSilent: number;
  failoverMysqldDown: number;
  failoverProbeFail: number;
  failoverPeriod: number;
  writeLease: number;
  store?: string;
  advertise?: string;
  registryAdvertise?: string;
  managerId?: string;
  leaderLease: number;
  leaderRenew: number;
  logFormat: LogFormat;
}>();
if (!(o.leaderRenew > 0) || !(o.leaderLease >= 2 * o.leaderRenew)) program.error('--leader-renew must be positive and at most half of --leader-lease: a leader gets at least two tries before its lease runs out');
if (!(o.writeLease >= 0) || (o.writeLease > 0 && o.writeLease >= o.failoverAgentSilent)) program.error('--write-lease must be 0 or shorter than --failover-agent-silent: the old primary must be read-only before a replica is promoted');
if (o.weightCpu === 0 && o.weightMemory === 0 && o.weightDisk === 0) program.error('at least one of --weight-cpu, --weight-memory, --weight-disk must be non-zero');

function printAdminToken(token: string, file: string, listen: string): void {
  const url = `http://${listen}`;
  process.stderr.write(
    [
      '',
      `berth: a new admin token was made for the admin HTTP server and kept in ${file} (mode 0600).`,
      `  It is shown this once: ${token}`,
      `  berthctl capacity reads the file (BERTH_STATE_DIR); curl -H "Authorization: Bearer $(cat ${file})" ${url}/v1/capacity`,
      `  dashboard: ${url}/#token=<the token>`,
      '',
    ].join('\n'),
  );
}

// The repository from the flags: an s3: one needs its credentials file (never in the spec).
function backupConfigOf(opts: typeof o) {
  const spec = parseRepository(opts.backupRepository!);
  if (spec.kind === 's3' && !opts.backupS3CredentialsFile) throw new Error('an s3: --backup-repository needs --backup-s3-credentials-file');
  const credentials = spec.kind === 's3' ? loadS3Credentials(path.resolve(opts.backupS3CredentialsFile!)) : undefined;
  const keys = [loadRepositoryKey(path.resolve(opts.backupKeyFile ?? path.join(opts.stateDir, 'backup.key')))];
  return { repository: openRepository(spec, credentials), credentials, keys, rateBytesPerSecond: Math.max(0, opts.backupRate || 0) };
}

async function main(): Promise<void> {
  const log = createLogger('manager', undefined, o.logFormat);
  // Nothing the manager writes (database, -wal/-shm, keys) is readable by other users.
  process.umask(0o077);
  fs.mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(o.stateDir, 0o700);
  const tls: TlsFiles | undefined = o.insecure ? undefined : filesIn(path.resolve(o.tlsDir ?? path.join(o.stateDir, 'tls')), 'manager', 'manager');
  if (!tls) log.warn('INSECURE: --insecure given, gRPC runs in plaintext without certificates; anyone who reaches the ports can read credentials and delete data');
  const dbFile = path.resolve(o.store ?? path.join(o.stateDir, 'berth.db'));
  const store = Store.open(dbFile);
  // Nothing below runs before this manager leads: it builds its view of the fleet from the
  // store as the previous leader left it, and resumes that leader's operations.
  const leadership = await takeLead(store, tls, log);
  const keyFile = path.resolve(o.secretKeyFile ?? path.join(o.stateDir, 'secret.key'));
  const secrets = openSecrets(store, keyFile, o.rotateSecretKey);
  log.info({ keyFile, keyId: secrets.box.keyId, sealed: secrets.sealed, rotated: secrets.rotated }, 'admin passwords sealed at rest');
  const tokens = store.tokens;
  if (!(o.retentionDays > 0)) throw new Error(`--retention-days must be a positive number, got ${o.retentionDays}`);
  const keepMs = o.retentionDays * 86_400_000;
  const purge = () => log.info({ ...store.retention.purge(keepMs), requests: store.requests.purge(keepMs), days: o.retentionDays }, 'retention: old events, operations and request ids deleted');
  purge();
  const purgeTimer = setInterval(purge, 3_600_000);
  purgeTimer.unref();
  const adminToken = chooseAdminToken({ flag: o.adminToken || process.env.BERTH_ADMIN_TOKEN || undefined, stateDir: o.stateDir, unauthenticated: !!o.adminUnauthenticated });
  const token = adminToken.token;
  // The admin HTTP token is an admin token everywhere (portal too): re-keyed when it changes,
  // gone when there is none.
  syncAdminTokenRow(tokens, token);
  if (adminToken.source === 'none') {
    log.warn('UNAUTHENTICATED: --admin-unauthenticated given, the admin HTTP server answers without a token; every process on this host (each MySQL container shares its network) can cordon, drain and read the fleet');
  } else if (adminToken.source === 'generated') {
    // Shown once, on the terminal (never through the logger): the file keeps it.
    printAdminToken(adminToken.token!, adminToken.file, o.adminListen);
  } else {
    log.info({ source: adminToken.source, file: adminToken.source === 'file' ? adminToken.file : undefined }, 'admin HTTP token in use');
  }
  const scheduler: SchedulerConfig = {
    nodeTimeoutMs: o.nodeTimeout * 1000,
    cpuOvercommit: o.cpuOvercommit,
    memoryOvercommit: o.memoryOvercommit,
    maxInstancesPerNode: o.maxInstancesPerNode,
    strategy: o.strategy,
    weights: { cpu: o.weightCpu, memory: o.weightMemory, disk: o.weightDisk },
  };
  const fleet = FleetState.load(store);
  const snapshot = fleet.snapshot;
  const engine = new Engine(fleet, log);
  const revocations = new RevocationState(fleet);
  const agents = new AgentPool(store.nodes, tls, (cert) => revocations.list.whyPeer(cert));
  agents.epoch = leadership.epoch;
  // A request to make a server writable is good on its agent for as long as a write lease
  // (without a lease: half the silence that starts a failover), never past the failover.
  agents.writeGrantMs = o.writeLease > 0 ? o.writeLease * 1000 : (o.failoverAgentSilent * 1000) / 2;
  // A cluster member made writable is covered by its agent's write lease at once (unless the
  // lease is off); a standalone instance never is.
  // Never a consensus cluster's member: its group owns super_read_only (docs/design.md).
  agents.leased = (id) => {
    const cluster = store.instances.get(id)?.clusterName;
    return o.writeLease > 0 && Boolean(cluster) && store.clusters.get(cluster!)?.replication !== 'group';
  };
  agents.followRegistrations((l) => fleet.onEvent(l));
  // Instances using less than half of any threshold are left out of the periodic scans.
  const usage = new UsageMap({ diskPct: Math.min(o.alertInstanceDiskPct, o.expandDiskPct) / 2, memoryPct: o.expandMemoryPct / 2 });
  const replication = new ReplicationMap();
  const webhook = o.alertWebhook ? new WebhookSender({ ...DEFAULT_WEBHOOK, url: o.alertWebhook, attempts: o.alertWebhookAttempts }, log) : undefined;
  if (!(o.alertCapacityDays >= 0)) throw new Error(`--alert-capacity-days must be 0 or more, got ${o.alertCapacityDays}`);
  const thresholds = { diskFreePct: o.alertDiskFreePct, instanceDiskPct: o.alertInstanceDiskPct, replicationLagSeconds: o.alertReplicationLag, capacityRunwayDays: o.alertCapacityDays, backupVerifiedHours: Math.max(0, o.alertBackupVerifiedHours || 0) };
  const failover = new ClusterReconciler(
    { fleet, engine, replication, log },
    {
      ...DEFAULT_RECONCILER,
      enabled: o.failover,
      agentSilentMs: o.failoverAgentSilent * 1000,
      mysqldDownMs: o.failoverMysqldDown * 1000,
      probeFailMs: o.failoverProbeFail * 1000,
      periodMs: o.failoverPeriod * 1000,
      leaseMs: o.writeLease * 1000,
    },
  );
  const capacity = () => computeCapacity(snapshot.nodes(), store.instances.all(), usage, scheduler, Date.now());
  // A sample of the fleet's and each zone's capacity a minute, and a forecast every 10 minutes.
  const capacityHistory = new CapacityRecorder({ store, report: capacity, nodes: () => snapshot.nodes(), scheduler, pool: new FitPool(), log });
  capacityHistory.start();
  const backupConfig = o.backupRepository ? backupConfigOf(o) : undefined;
  if (backupConfig) log.info({ repository: formatRepository(backupConfig.repository.spec), keyId: backupConfig.keys[0]!.id }, 'backup repository');
  const archiver = new BinlogArchiveReconciler({ fleet, agents, backup: backupConfig, replication, scheduler, log });
  // The backup scheduler is made once the engine is (below); until then no target has a status.
  let backupStatus: () => TargetStatus[] = () => [];
  const gather = () => ({ now: Date.now(), nodes: [...snapshot.nodes()], instances: alertInstances(store, usage, replication), usage, scheduler, thresholds, replication, failovers: failover.failovers(), noWriter: failover.problems(), capacityRunway: capacityHistory.forecasts(), binlogArchives: archiver.archives(), backups: backupStatus(), endpoints: endpoints?.noBackends() });
  const alerts = new AlertManager(DEFAULT_RULES, gather, (kind, subject, message) => fleet.event(kind, subject, message), webhook, log);
  const metrics = new Metrics(store, capacity, () => alerts.firing(), () => webhook ?? { delivered: 0, failed: 0 });
  metrics.binlogArchives(() => archiver.archives());
  const endpoints = o.endpointPorts
    ? new EndpointRouter({ fleet, agents, replication, log: log.child({ part: 'endpoints' }) }, { ...DEFAULT_ENDPOINTS, range: o.endpointPorts, maxLagSeconds: o.endpointMaxLag, leaseMs: o.endpointLease * 1000 })
    : undefined;
  if (endpoints) metrics.watchEndpoints(endpoints);
  const ops: OperationDeps = {
    fleet,
    agents,
    agentCreateDeadlineMs: 10 * 60_000,
    requireMysqlTls: !!o.mysqlRequireTls,
    galeraPortOffset: o.galeraPortOffset,
    scheduler,
    defaultImage: o.image || o.mariadbImage,
    adminUser: o.adminUser,
    onSchedule: (seconds, ok) => metrics.schedulerSeconds.observe({ result: ok ? 'placed' : 'unschedulable' }, seconds),
    usage,
    drainConcurrency: Math.max(1, o.drainConcurrency),
    failover: DEFAULT_FAILOVER,
    backup: backupConfig,
    endpoints,
  };
  registerOperationTypes(engine, ops);

  // Clients learn a moved instance's new address from the API and from the alert webhook.
  fleet.onEvent((e) => {
    if (webhook && e.kind === 'instance.moved') void webhook.send({ version: 1, source: 'berth-manager', event: e });
  });
  const expander = new Expander({ fleet, engine, usage, ops, log }, {
    ...DEFAULT_POLICY,
    mode: o.autoExpand,
    diskHighPct: o.expandDiskPct,
    diskGrowBy: o.expandDiskGrow,
    memoryHighPct: o.expandMemoryPct,
    memorySustainMs: o.expandMemorySustain * 1000,
    cooldownMs: o.expandCooldown * 1000,
    maxMigrationsPerNode: o.maxMigrationsPerNode,
    maxMigrationsFleet: o.maxMigrations,
    diskPressureFreePct: o.diskPressureFreePct,
  });

  // Hot copies between agents carry the manager's grant for that instance and target node.
  if (tls) {
    const signer = new GrantSigner(tls);
    setBackupGrantIssuer(grantIssuerFor(signer));
  }

  // Before anyone is served and before operations resume (they are what makes a pending
  // reservation legitimate, and they read the corrected view).
  const findings = checkReservationsAtStart(fleet, log, { repair: !!o.repairReservations });
  metrics.reservationFindings(findings);

  // Two listeners: agents never share a port with portal callers, and each side has its own
  // client-certificate rule (agents must present one; portal callers a certificate or a token).
  const server = new grpc.Server(SERVER_OPTIONS);
  const backups = new BackupOps(ops, engine);
  const backupScheduler = new BackupScheduler(
    { fleet, engine, backups, agents, images: { mysql: o.mysqlImage, mariadb: o.mariadbImage }, adminUser: o.adminUser, log, sample: Math.max(0, o.backupDrillSample) },
    { maxDrills: Math.max(0, o.backupMaxDrills) },
  );
  backupStatus = () => backupScheduler.status();
  metrics.backupStatus(backupStatus);
  addPortal(server, { store, snapshot, ops, engine, fleet, scheduler, log, images: { mysql: o.mysqlImage, mariadb: o.mariadbImage }, auth: { tokens, insecure: !tls, revoked: (cert) => revocations.list.whyPeer(cert) }, agents, revocations, mysqlCaPem: tls ? fs.readFileSync(tls.ca, 'utf8') : undefined, failover: { problem: (c) => failover.problemOf(c), acknowledged: (c) => failover.acknowledged(c) }, backups, backupStatus, adminUser: o.adminUser, archiveView: (c) => archiver.view(c) });
  const registry = new grpc.Server(SERVER_OPTIONS);
  addRegistry(registry, { fleet, heartbeatIntervalMs: 2000, log, usage, replication, writeLease: (node) => failover.leaseFor(node), heard: (node, ms) => agents.heard(node, ms), requireNodeCert: Boolean(tls), tls: new InstanceTlsState(store), onForeignReports: (node, n) => metrics.foreignReports.inc({ node }, n), nodeTimeoutMs: scheduler.nodeTimeoutMs, revocations });
  const port = await bindAgain(server, o.listen, serverCredentials(tls, 'optional'));
  const registryPort = await bindAgain(registry, o.registryListen, serverCredentials(tls, 'require'));
  const resumed = engine.resumeAll();
  failover.start();
  archiver.start();
  endpoints?.start();
  log.info({ listen: o.listen, port, registryListen: o.registryListen, registryPort, tls: Boolean(tls), store: dbFile, nodes: snapshot.size, resumed, epoch: leadership.epoch }, 'manager serving');
  alerts.start(o.alertInterval * 1000);
  expander.start(o.autoExpandInterval * 1000);
  if (backupConfig) backupScheduler.start(o.backupSchedulerInterval * 1000);
  const admin = await startAdminServer({ store, snapshot, usage, scheduler, log, token, tokens, tls, allowedHosts: o.adminHosts, alerts, webhook, metrics, engine, expander, agents, clusterProblem: (c) => failover.problemOf(c), capacityHistory, backupStatus, endpoints, backupRepository: backupConfig ? { spec: formatRepository(backupConfig.repository.spec), freeBytes: () => backupConfig.repository.freeBytes() } : undefined }, o.adminListen);

  stopOnSignals(
    log,
    'manager',
    server,
    () => {
      registry.forceShutdown();
      alerts.stop();
      capacityHistory.stop();
      failover.stop();
      archiver.stop();
      endpoints?.stop();
      expander.stop();
      void backupScheduler.stop();
      void admin?.app.close();
      agents.close();
      leadership.release();
      store.close();
    },
    5000,
  );
}

// A leader that lost its lease ends: every engine, reconciler and step in flight stops at once,
// and its supervisor (systemd, compose's restart policy) starts it again as a follower.
const EXIT_STEPPED_DOWN = 75;

// Serves the portal and registry ports as a follower (every call refused, naming the leader)
// until this manager takes the lease; from then on every store write checks it still holds it.
async function takeLead(store: Store, tls: TlsFiles | undefined, log: ReturnType<typeof createLogger>): Promise<Leadership> {
  const portalAddress = o.advertise ?? o.listen;
  const me = { id: o.managerId ?? `${os.hostname()}/${portalAddress}`, portalAddress, registryAddress: o.registryAdvertise ?? o.registryListen };
  const leadership = new Leadership(store.leaderLease, me, { leaseMs: o.leaderLease * 1000, renewMs: o.leaderRenew * 1000 }, log, (why) => {
    process.stderr.write(`berth-manager: stepped down, ${why}\n`);
    process.exit(EXIT_STEPPED_DOWN);
  });
  // Bound before the first try: holding its own address proves an earlier process of this
  // manager is gone, so its unexpired lease may be taken back at once (leader/lease.ts).
  const portal = new grpc.Server(SERVER_OPTIONS);
  const registry = new grpc.Server(SERVER_OPTIONS);
  addFollowerServices(portal, registry, () => leadership.leader());
  await bindServer(portal, o.listen, serverCredentials(tls, 'optional'));
  await bindServer(registry, o.registryListen, serverCredentials(tls, 'require'));
  let told = false;
  await leadership.acquire((l) => {
    if (!told) log.info({ me: me.id, leader: l?.holder, epoch: l?.epoch, leaderAddress: l?.portalAddress }, 'following: another manager leads');
    told = true;
  });
  portal.forceShutdown();
  registry.forceShutdown();
  store.fence(() => leadership.check());
  leadership.startRenewing();
  return leadership;
}

// The follower's servers just let go of the ports: the leader's bind may find them busy for a
// moment.
async function bindAgain(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      return await bindServer(server, address, creds);
    } catch (err) {
      if (i >= 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

runMain('berth-manager', main);
