import { describe, expect, it } from 'vitest';
import { dialectFor } from './dialect';
import { groupSelf, messageCacheBytes, parseGroupMembers } from './group';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('MySQL Group Replication in the Dialect', () => {
  const g = dialectFor('mysql').group!;

  it('is Group Replication on MySQL and Galera on MariaDB', () => {
    expect(g.kind).toBe('group-replication');
    expect(dialectFor('mariadb').group!.kind).toBe('galera');
  });

  it('sizes the message cache at an eighth of the container, within MySQL 128M minimum and 1G', () => {
    expect(messageCacheBytes(512 * MiB)).toBe(128 * MiB);
    expect(messageCacheBytes(2 * GiB)).toBe(256 * MiB);
    expect(messageCacheBytes(64 * GiB)).toBe(GiB);
  });

  it('never starts the group at boot and keeps single-primary mode', () => {
    const s = g.settings({ groupName: 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee', localAddress: '127.0.0.2:4301', seeds: ['127.0.0.2:4301'], allowlist: ['127.0.0.2'], memberWeight: 50, consistency: 'BEFORE_ON_PRIMARY_FAILOVER', autorejoinTries: 3 }, GiB, false);
    expect(s['loose-group_replication_start_on_boot']).toBe('OFF');
    expect(s['loose-group_replication_bootstrap_group']).toBe('OFF');
    expect(s['loose-group_replication_single_primary_mode']).toBe('ON');
    expect(s['loose-group_replication_ssl_mode']).toBeUndefined();
  });

  it('uses TLS for the group and its recovery when the instance has it', () => {
    const s = g.settings({ groupName: 'x', localAddress: 'h:1', seeds: [], allowlist: [], memberWeight: 50, consistency: 'EVENTUAL', autorejoinTries: 3 }, GiB, true);
    expect(s['loose-group_replication_ssl_mode']).toBe('REQUIRED');
    expect(s['loose-group_replication_recovery_use_ssl']).toBe('ON');
  });

  it('sets the recovery account on its channel with super_read_only lifted around it', () => {
    const sts = g.setRecoveryAccount('berth_repl', 'pw');
    const change = sts.find((s) => s.sql.startsWith('CHANGE REPLICATION SOURCE'))!;
    expect(change.sql).toContain("FOR CHANNEL 'group_replication_recovery'");
    expect(change.params).toEqual(['berth_repl', 'pw']);
    expect(sts.at(-1)!.sql).toContain('super_read_only = @berth_sro');
  });

  it('reads the members, drops the id-less row of a stopped plugin, and finds itself', () => {
    const rows = [
      { id: 'u1', host: '127.0.0.2', port: 3301, state: 'ONLINE', role: 'PRIMARY', version: '9.7.4', queue: 0, local: 1 },
      { id: 'u2', host: '127.0.0.3', port: 3301, state: 'UNREACHABLE', role: 'SECONDARY', version: '9.7.4', queue: '3', local: 0 },
      { id: 'u3', host: '127.0.0.4', port: 3301, state: 'UNREACHABLE', role: 'SECONDARY', version: '9.7.4', queue: null, local: 0 },
    ];
    const ms = parseGroupMembers(rows);
    expect(ms.map((m) => m.queue)).toEqual([0, 3, 0]);
    // Cut off from the majority: ONLINE and PRIMARY of itself, one of three online.
    expect(groupSelf(ms)).toEqual({ state: 'ONLINE', role: 'PRIMARY', online: 1, size: 3, version: '9.7.4' });
    expect(parseGroupMembers([{ id: '', host: '', port: 0, state: 'OFFLINE', role: '', version: '', queue: 0, local: 0 }])).toEqual([]);
    expect(groupSelf([])).toBeUndefined();
  });
});
