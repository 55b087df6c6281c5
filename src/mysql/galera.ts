import type { GroupConfig, GroupDialect, GroupMember, GroupSelf, Statement } from './dialect-interface';
import { GiB, MiB } from './common-sql';

// MariaDB Galera: its my.cnf lines and statements, the part of the MariaDB Dialect consensus
// clusters use (docs/design.md, "Consensus clusters: Galera"). Every member could write; berth
// keeps all but one read_only (the applier and state transfer threads still apply) and chooses
// that writer itself.

export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

// The write-set cache a member that was away for a moment catches up from (IST) instead of a
// full copy (SST): an eighth of the container's memory, 64M to 1G (Galera's default is 128M).
export function gcacheBytes(memoryBytes: number): number {
  return Math.max(64 * MiB, Math.min(GiB, Math.floor(memoryBytes / 8 / MiB) * MiB));
}

// Galera listens only on the member's own address (gmcast, IST; SST's socat on the joiner), so
// simulated hosts on one machine, and a host's other services, never share its ports.
// The first member's first start has an empty cluster address (a new cluster); every later
// start, and every other member, joins the peers. binlog_format=ROW is in the MariaDB
// durability section already; innodb_autoinc_lock_mode=2 lets appliers insert in parallel
// without the table-level auto-increment lock. The cluster's writes carry one GTID domain on
// every member (wsrep_gtid_mode), distinct from the server's own (gtid_domain_id 0) local writes.
export function galeraSettings(g: GroupConfig, memoryBytes: number): Record<string, string | number> {
  const w = g.galera;
  if (!w) throw new Error('a MariaDB consensus cluster member needs its Galera settings');
  return {
    wsrep_on: 'ON',
    wsrep_provider: GALERA_PROVIDER,
    wsrep_cluster_name: w.clusterName,
    wsrep_cluster_address: w.bootstrap ? 'gcomm://' : `gcomm://${w.peers.join(',')}`,
    wsrep_node_address: w.address,
    wsrep_node_incoming_address: w.incomingAddress,
    wsrep_provider_options: `"gmcast.listen_addr=tcp://${w.address};ist.recv_addr=${w.istAddress};gcache.size=${gcacheBytes(memoryBytes)}"`,
    wsrep_sst_method: 'mariabackup',
    wsrep_sst_receive_address: w.sstAddress,
    wsrep_sst_auth: `${w.sstUser}:${w.sstPassword}`,
    wsrep_gtid_mode: 'ON',
    wsrep_gtid_domain_id: w.gtidDomain,
    innodb_autoinc_lock_mode: 2,
  };
}

// The state transfer account: what mariabackup needs on the donor and nothing else, reachable
// only through the socket inside the donor's container. Created on the first member before any
// other joins, so every member's copy has it.
export function createSstUser(user: string, password: string): Statement[] {
  return [
    { sql: "CREATE USER IF NOT EXISTS ?@'localhost' IDENTIFIED BY ?", params: [user, password] },
    { sql: "ALTER USER ?@'localhost' IDENTIFIED BY ?", params: [user, password] },
    { sql: "GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR ON *.* TO ?@'localhost'", params: [user] },
  ];
}

const STATUS = ['WSREP_LOCAL_STATE_COMMENT', 'WSREP_CLUSTER_STATUS', 'WSREP_CLUSTER_SIZE', 'WSREP_READY', 'WSREP_INCOMING_ADDRESSES', 'WSREP_GCOMM_UUID', 'WSREP_PROVIDER_VERSION', 'WSREP_LOCAL_RECV_QUEUE'];

// The member as it sees itself and its component, as name/value rows. wsrep_on tells a Galera
// member from any other MariaDB server (whose wsrep status says Disconnected).
export function galeraStatus(): Statement {
  return {
    sql:
      "SELECT 'wsrep_on' AS name, CAST(@@GLOBAL.wsrep_on AS CHAR) AS value UNION ALL SELECT 'incoming', @@GLOBAL.wsrep_node_incoming_address " +
      `UNION ALL SELECT LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN (${STATUS.map((s) => `'${s}'`).join(', ')})`,
    params: [],
  };
}

const hostPort = (a: string) => {
  const i = a.lastIndexOf(':');
  return { host: i > 0 ? a.slice(0, i) : a, port: i > 0 ? Number(a.slice(i + 1)) || 0 : 0 };
};

// This member's row (state: wsrep_local_state_comment, e.g. Synced, Joined, Donor/Desynced;
// role: wsrep_cluster_status, Primary, non-Primary or Disconnected), then one row per other
// member of its component, from wsrep_incoming_addresses (their client address only). None on a
// server outside a Galera cluster.
export function parseGaleraStatus(rows: Record<string, unknown>[]): GroupMember[] {
  const v = new Map(rows.map((r) => [String(r.name), String(r.value ?? '')]));
  if (v.get('wsrep_on') !== '1' && v.get('wsrep_on')?.toUpperCase() !== 'ON') return [];
  const incoming = v.get('incoming') ?? '';
  const me: GroupMember = {
    id: v.get('wsrep_gcomm_uuid') ?? '',
    ...hostPort(incoming),
    state: v.get('wsrep_local_state_comment') ?? '',
    role: v.get('wsrep_cluster_status') ?? '',
    version: v.get('wsrep_provider_version') ?? '',
    queue: Number(v.get('wsrep_local_recv_queue') ?? 0) || 0,
    local: true,
    size: Number(v.get('wsrep_cluster_size') ?? 0) || 0,
    ready: v.get('wsrep_ready') === 'ON',
  };
  const others = (v.get('wsrep_incoming_addresses') ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a && a !== incoming)
    .map((a): GroupMember => ({ id: '', ...hostPort(a), state: '', role: '', version: '', queue: 0, local: false }));
  return [me, ...others];
}

// In heartbeats: `online` is the component's size while this member is in the Primary component
// and ready, else 0 (a member cut off from the majority is non-Primary and refuses queries).
export function galeraSelf(ms: GroupMember[]): GroupSelf | undefined {
  const me = ms.find((m) => m.local);
  if (!me) return undefined;
  const size = me.size ?? 0;
  return { state: me.state, role: me.role, online: me.role === 'Primary' && me.ready ? size : 0, size, version: me.version };
}

// Galera starts with mysqld: nothing to run (the agent refuses StartGroupReplication for it).
const none = (): Statement[] => [];

export const mariadbGroup: GroupDialect = {
  kind: 'galera',
  settings: (g, memoryBytes) => galeraSettings(g, memoryBytes),
  setRecoveryAccount: none,
  bootstrapOn: none,
  bootstrapOff: none,
  start: none,
  stop: none,
  members: galeraStatus,
  parseMembers: parseGaleraStatus,
  self: galeraSelf,
  createSstUser,
};
