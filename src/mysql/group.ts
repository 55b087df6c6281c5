import type { GroupConfig, GroupDialect, GroupMember, GroupSelf, Statement } from './dialect-interface';
import { GiB, liftSuperReadOnly, MiB } from './common-sql';

// MySQL Group Replication (single-primary): its my.cnf lines and statements, the part of the
// MySQL Dialect consensus clusters use (docs/design.md, "Consensus clusters").

export const DEFAULT_GROUP_CONSISTENCY = 'BEFORE_ON_PRIMARY_FAILOVER';

// The cache of messages a member that was unreachable for a moment catches up from. MySQL's
// minimum is 128M (and its default 1G, too much for small members): an eighth of the container.
export function messageCacheBytes(memoryBytes: number): number {
  return Math.max(128 * MiB, Math.min(GiB, Math.floor(memoryBytes / 8 / MiB) * MiB));
}

// "loose-": --initialize reads this file without loading the plugin and would refuse the names.
// Group Replication never starts by itself at boot: the agent bootstraps or joins (a restarted
// member is started again by the manager's reconciler, or auto-rejoins after an expulsion).
// Leaving the group makes a member read-only rather than offline (the agent and the monitor keep
// their sessions). With TLS, the group's traffic and the recovery channel use the instance's.
export function groupSettings(g: GroupConfig, memoryBytes: number, tls: boolean): Record<string, string | number> {
  return {
    'plugin-load-add': 'group_replication.so',
    'loose-group_replication_group_name': g.groupName,
    'loose-group_replication_start_on_boot': 'OFF',
    'loose-group_replication_bootstrap_group': 'OFF',
    'loose-group_replication_single_primary_mode': 'ON',
    'loose-group_replication_local_address': g.localAddress,
    'loose-group_replication_group_seeds': g.seeds.join(','),
    'loose-group_replication_ip_allowlist': g.allowlist.join(','),
    'loose-group_replication_member_weight': g.memberWeight,
    'loose-group_replication_consistency': g.consistency,
    'loose-group_replication_autorejoin_tries': g.autorejoinTries,
    'loose-group_replication_exit_state_action': 'READ_ONLY',
    'loose-group_replication_message_cache_size': messageCacheBytes(memoryBytes),
    // The recovery channel takes only an account (CHANGE ... GET_SOURCE_PUBLIC_KEY is refused
    // on it): without TLS, caching_sha2_password needs the donor's RSA key to send the password.
    'loose-group_replication_recovery_get_public_key': 'ON',
    ...(tls ? { 'loose-group_replication_ssl_mode': 'REQUIRED', 'loose-group_replication_recovery_use_ssl': 'ON' } : {}),
  };
}

// The distributed recovery channel's account (binlog only: REPLICATION SLAVE; a member with no
// data is seeded by berth's CLONE before it joins, so the account needs no BACKUP_ADMIN).
export function recoveryChannel(user: string, password: string): Statement[] {
  return [{ sql: "CHANGE REPLICATION SOURCE TO SOURCE_USER = ?, SOURCE_PASSWORD = ? FOR CHANNEL 'group_replication_recovery'", params: [user, password] }];
}

// The first member makes the group; the flag is turned off again whatever START answered (a
// member left with it on would make a second group at its next start).
export const bootstrapOn = (): Statement[] => [{ sql: 'SET GLOBAL group_replication_bootstrap_group = ON', params: [] }];
export const bootstrapOff = (): Statement[] => [{ sql: 'SET GLOBAL group_replication_bootstrap_group = OFF', params: [] }];
// START blocks until the member is ONLINE or failed to join. super_read_only is the group's to
// change from here on; mysql.slave_master_info is protected by it, hence the lift around the
// channel's account.
export const startGroup = (): Statement[] => [{ sql: 'START GROUP_REPLICATION', params: [] }];
export const stopGroup = (): Statement[] => [{ sql: 'STOP GROUP_REPLICATION', params: [] }];
export const setRecoveryAccount = (user: string, password: string): Statement[] => liftSuperReadOnly(recoveryChannel(user, password));

// The group as this member sees it, one row per member: `id` (server_uuid), `host`, `port`,
// `state` (ONLINE, RECOVERING, OFFLINE, ERROR, UNREACHABLE), `role` (PRIMARY, SECONDARY),
// `version`, `queue` (transactions received and not yet applied), `local` (1: this server).
export function groupMembers(): Statement {
  return {
    sql:
      'SELECT m.MEMBER_ID AS id, m.MEMBER_HOST AS host, m.MEMBER_PORT AS port, m.MEMBER_STATE AS state, m.MEMBER_ROLE AS role, ' +
      'm.MEMBER_VERSION AS version, COALESCE(s.COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE, 0) AS queue, (m.MEMBER_ID = @@GLOBAL.server_uuid) AS local ' +
      'FROM performance_schema.replication_group_members m LEFT JOIN performance_schema.replication_group_member_stats s ON s.MEMBER_ID = m.MEMBER_ID',
    params: [],
  };
}

// Rows of groupMembers(); MySQL lists one OFFLINE row with no id while the plugin is stopped.
export function parseGroupMembers(rows: Record<string, unknown>[]): GroupMember[] {
  return rows
    .filter((r) => r.id)
    .map((r) => ({
      id: String(r.id),
      host: String(r.host ?? ''),
      port: Number(r.port ?? 0),
      state: String(r.state ?? ''),
      role: String(r.role ?? ''),
      version: String(r.version ?? ''),
      queue: Number(r.queue ?? 0),
      local: Number(r.local) === 1,
    }));
}

export function groupSelf(ms: GroupMember[]): GroupSelf | undefined {
  const me = ms.find((m) => m.local);
  if (!me) return undefined;
  return { state: me.state, role: me.role, online: ms.filter((m) => m.state === 'ONLINE').length, size: ms.length, version: me.version };
}

export const mysqlGroup: GroupDialect = {
  kind: 'group-replication',
  settings: groupSettings,
  setRecoveryAccount,
  bootstrapOn,
  bootstrapOff,
  start: startGroup,
  stop: stopGroup,
  members: groupMembers,
  parseMembers: parseGroupMembers,
  self: groupSelf,
};
