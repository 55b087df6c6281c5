// my.cnf memory settings besides the buffer pool, sized from the container's memory limit, per
// flavor. mysqld's defaults assume a machine of its own: MySQL 9.7 with them took about 560 MB
// at rest (performance_schema 230 MB of it, a 64 MB log buffer) and its memory cgroup killed
// it at 512 MB under a writer. Small containers get small tables and buffers; from about 4 GB
// up the values are mysqld's own defaults again.
const MiB = 1024 ** 2;

// Measured beside the pool (MySQL 9.7 at 512M with these settings, four writers committing
// 200-row batches: 270 MB resident besides the pool, performance_schema about 90 MB of it,
// InnoDB's fixed buffers 50 MB, the rest sessions and malloc). MariaDB needs far less.
export const MYSQL_BESIDE_POOL = 320 * MiB;
export const MARIADB_BESIDE_POOL = 128 * MiB;

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));
const mib = (n: number) => Math.floor(n / MiB) * MiB;

// Both flavors: the redo log buffer (MySQL's default 64M, MariaDB's 16M), the MyISAM key cache
// (only system and user MyISAM tables use it) and the size at which an in-memory temporary
// table goes to disk, a per-query cost.
export function commonMemorySettings(memoryBytes: number): Record<string, number> {
  const tmp = mib(clamp(memoryBytes / 32, 16 * MiB, 64 * MiB));
  return {
    innodb_log_buffer_size: mib(clamp(memoryBytes / 64, 8 * MiB, 64 * MiB)),
    key_buffer_size: mib(clamp(memoryBytes / 128, 4 * MiB, 64 * MiB)),
    tmp_table_size: tmp,
    max_heap_table_size: tmp,
  };
}

// MySQL: performance_schema stays ON (CLONE's progress and the processlist berth reads live
// there); its history and digest tables, and the per-account/host/user summaries (each carries
// every server error code), are sized to the container instead of autosized to the machine.
// TempTable's shared in-memory pool (default 1G) is capped likewise.
export function mysqlMemorySettings(memoryBytes: number): Record<string, string | number> {
  const rows = clamp(Math.floor(memoryBytes / (512 * 1024)), 1000, 10_000);
  const owners = clamp(Math.floor(memoryBytes / (32 * MiB)), 16, 128);
  return {
    // The pool is sized in chunks of this (128M by default), so a 192M pool would be 256M.
    ...(memoryBytes < 16 * 1024 * MiB ? { innodb_buffer_pool_chunk_size: 16 * MiB } : {}),
    temptable_max_ram: mib(clamp(memoryBytes / 16, 32 * MiB, 1024 * MiB)),
    performance_schema: 'ON',
    performance_schema_digests_size: rows,
    performance_schema_events_statements_history_long_size: rows,
    performance_schema_events_transactions_history_long_size: rows,
    performance_schema_events_stages_history_long_size: rows,
    performance_schema_events_waits_history_long_size: rows,
    performance_schema_accounts_size: owners,
    performance_schema_hosts_size: owners,
    performance_schema_users_size: owners,
  };
}
