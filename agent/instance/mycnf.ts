import { dialectFor, type Flavor } from '../../src/mysql/dialect';
import type { GroupConfig } from '../../src/mysql/dialect-interface';
import { IN_CONTAINER, SOCKET } from './layout';

export interface MyCnfInput {
  flavor: Flavor;
  instanceId: string;
  serverId: number;
  bindAddress: string;
  port: number;
  memoryBytes: number;
  // The disk reservation: binary log files are sized from it (see binlog.ts for the cap on
  // their total).
  diskBytes?: number;
  // Starts as a replica (agent/movement): read-only, replication not started at boot.
  replica?: boolean;
  // Clients may (or, required, must) connect over TLS with the node's MySQL certificate.
  tls?: { required: boolean };
  // A member of a semi-sync cluster: the acknowledgement timeout (ms); 0 or absent: none.
  semiSyncTimeoutMs?: number;
  // A member of a consensus cluster (MySQL Group Replication, MariaDB Galera): its group.
  group?: GroupConfig;
}

// Where the agent puts the node's MySQL certificate, its key and the fleet CA (conf/tls).
export const TLS_IN_CONTAINER = { ca: `${IN_CONTAINER.conf}/tls/ca.pem`, cert: `${IN_CONTAINER.conf}/tls/server-cert.pem`, key: `${IN_CONTAINER.conf}/tls/server-key.pem` };

// The section title agent/movement/replica-cnf.ts looks for to drop these lines again.
export const REPLICA_SECTION = 'replica (until the manager promotes it)';
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

// The buffer pool takes the share of the container's memory left after per-connection buffers,
// the binlog cache and mysqld itself; small containers need proportionally more headroom, and
// never less than what the flavor needs beside the pool (MySQL's performance_schema).
export function bufferPoolBytes(memoryBytes: number, flavor: Flavor): number {
  const share = memoryBytes >= 8 * GiB ? 0.75 : memoryBytes >= 2 * GiB ? 0.6 : 0.5;
  // InnoDB sizes the pool in chunks (128M by default); below 1G a 16M step avoids waste.
  const step = memoryBytes >= 2 * GiB ? 128 * MiB : 16 * MiB;
  const room = Math.min(memoryBytes * share, memoryBytes - dialectFor(flavor).memoryBesidePool);
  return Math.max(64 * MiB, Math.floor(room / step) * step);
}

// One binlog file is at most 1/32 of the disk reservation (16M to 1G), so the agent's cap on
// the total (binlog.ts) can purge in small steps and a rotation never overshoots by much.
export function binlogFileBytes(diskBytes: number): number {
  return Math.max(16 * MiB, Math.min(GiB, Math.floor(diskBytes / 32 / (4096)) * 4096));
}

export function maxConnections(memoryBytes: number): number {
  return Math.max(100, Math.min(4000, Math.floor(memoryBytes / (8 * MiB))));
}

// Same names in both flavors (MariaDB has had require_secure_transport since 10.5.2).
function tlsSection(required: boolean): [string, Record<string, string>] {
  return [
    'TLS for clients (the node certificate from the fleet CA)',
    { 'ssl-ca': TLS_IN_CONTAINER.ca, 'ssl-cert': TLS_IN_CONTAINER.cert, 'ssl-key': TLS_IN_CONTAINER.key, 'require-secure-transport': required ? 'ON' : 'OFF' },
  ];
}

type Section = [string, Record<string, string | number>];

// Renders my.cnf from the instance's shape. Deterministic (sorted nothing, fixed order) so it can
// be compared with expected files and so a re-render that changes nothing is visibly a no-op.
export function renderMyCnf(i: MyCnfInput): string {
  const d = dialectFor(i.flavor);
  const sections: Section[] = [
    identitySection(i),
    FILES_SECTION,
    durabilitySection(i),
    memorySection(i),
    ['character set', { 'character-set-server': 'utf8mb4' }],
    ...(i.tls ? [tlsSection(i.tls.required)] : []),
    [`${i.flavor} only`, d.serverSettings()],
  ];
  if (i.semiSyncTimeoutMs) sections.push(['semi-sync replication (cluster member)', d.semiSyncSettings(i.semiSyncTimeoutMs)]);
  if (i.group) sections.push([d.group?.kind === 'galera' ? 'galera (consensus cluster member)' : 'group replication (consensus cluster member)', groupSettings(i)]);
  if (i.replica) sections.push([REPLICA_SECTION, d.replicaSettings()]);
  return renderSections(i.instanceId, sections);
}

function groupSettings(i: MyCnfInput): Record<string, string | number> {
  const g = dialectFor(i.flavor).group;
  if (!g) throw new Error(`${i.flavor} has no consensus clusters yet`);
  return g.settings(i.group!, i.memoryBytes, !!i.tls);
}

function identitySection(i: MyCnfInput): Section {
  return [
    'identity and network',
    {
      'server-id': i.serverId,
      'bind-address': i.bindAddress,
      port: i.port,
      'report-host': i.bindAddress,
      'report-port': i.port,
      'skip-name-resolve': 'ON',
    },
  ];
}

const FILES_SECTION: Section = [
  'files (bind-mounted from the host)',
  {
    user: 'mysql',
    datadir: IN_CONTAINER.data,
    socket: SOCKET,
    'pid-file': `${IN_CONTAINER.run}/mysqld.pid`,
    tmpdir: IN_CONTAINER.tmp,
    'log-error': `${IN_CONTAINER.log}/error.log`,
    'slow-query-log': 'ON',
    'slow-query-log-file': `${IN_CONTAINER.log}/slow.log`,
    'long-query-time': 1,
  },
];

function durabilitySection(i: MyCnfInput): Section {
  const d = dialectFor(i.flavor);
  return [
    'durability and replication',
    {
      'log-bin': 'binlog',
      'sync-binlog': 1,
      'innodb-flush-log-at-trx-commit': 1,
      'binlog-expire-logs-seconds': 604800,
      ...(i.diskBytes ? { 'max-binlog-size': binlogFileBytes(i.diskBytes) } : {}),
      ...d.gtidSettings(),
      ...d.applierSettings(),
    },
  ];
}

function memorySection(i: MyCnfInput): Section {
  const d = dialectFor(i.flavor);
  const pool = bufferPoolBytes(i.memoryBytes, i.flavor);
  return [
    `memory (container limit ${i.memoryBytes} bytes)`,
    {
      'innodb-buffer-pool-size': pool,
      ...d.redoLogSettings(pool, i.diskBytes),
      'max-connections': maxConnections(i.memoryBytes),
      ...d.memorySettings(i.memoryBytes),
    },
  ];
}

function renderSections(instanceId: string, sections: Section[]): string {
  const lines = [`# Written by the berth agent for instance ${instanceId}; edits are overwritten.`, '[mysqld]'];
  for (const [title, settings] of sections) {
    const entries = Object.entries(settings);
    if (entries.length === 0) continue;
    lines.push('', `# ${title}`);
    for (const [k, v] of entries) lines.push(`${k.replaceAll('_', '-')} = ${v}`);
  }
  lines.push('', '[client]', `socket = ${SOCKET}`, '');
  return lines.join('\n');
}
