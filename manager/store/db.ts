import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type DB = Database.Database;

// Schema migrations, applied in order, each once, recorded in user_version. Append only: a
// released migration is never edited.
const MIGRATIONS: string[] = [
  `
  CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    agent_address TEXT NOT NULL,
    host TEXT NOT NULL,
    labels TEXT NOT NULL DEFAULT '{}',
    cpu_millis INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    port_min INTEGER NOT NULL,
    port_max INTEGER NOT NULL,
    busy_ports TEXT NOT NULL DEFAULT '[]',
    cordoned INTEGER NOT NULL DEFAULT 0,
    agent_version TEXT NOT NULL DEFAULT '',
    docker_version TEXT NOT NULL DEFAULT '',
    registered_at TEXT NOT NULL,
    last_heartbeat_ms INTEGER NOT NULL
  );
  CREATE TABLE disks (
    node TEXT NOT NULL REFERENCES nodes(name) ON DELETE CASCADE,
    path TEXT NOT NULL,
    total_bytes INTEGER NOT NULL,
    free_bytes INTEGER NOT NULL,
    PRIMARY KEY (node, path)
  );
  CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
  -- What a node has allocated is the sum over its instances: never stored twice.
  CREATE TABLE instances (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    server_id INTEGER NOT NULL UNIQUE,
    node TEXT NOT NULL REFERENCES nodes(name),
    disk_path TEXT NOT NULL,
    port INTEGER NOT NULL,
    cpu_millis INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    disk_bytes INTEGER NOT NULL,
    image TEXT NOT NULL,
    state TEXT NOT NULL,
    flavor TEXT NOT NULL DEFAULT '',
    version TEXT NOT NULL DEFAULT '',
    container_id TEXT NOT NULL DEFAULT '',
    admin_user TEXT NOT NULL,
    admin_password TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    -- The last line of defence against two instances on one port.
    UNIQUE (node, port)
  );
  CREATE INDEX instances_node ON instances(node);
  CREATE TABLE operations (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    state TEXT NOT NULL,
    next_step INTEGER NOT NULL DEFAULT 0,
    error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX operations_state ON operations(state);
  CREATE TABLE operation_steps (
    operation_id TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL DEFAULT '',
    finished_at TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (operation_id, seq)
  );
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL
  );
  CREATE INDEX events_subject ON events(subject);
  `,
  // Anti-affinity group: members of one cluster never share a host. Empty: none.
  `
  ALTER TABLE instances ADD COLUMN cluster TEXT NOT NULL DEFAULT '';
  CREATE INDEX instances_cluster ON instances(cluster) WHERE cluster != '';
  `,
  // Engine v2: durable parameters, per-step outputs and attempts, subjects (the locks an
  // operation holds), parent/child, progress, and a recorded rollback (undo_step: the step being
  // undone, -1 when not rolling back) so an undo interrupted by a restart resumes. Old rows read
  // as operations on one instance with empty parameters.
  `
  ALTER TABLE operations ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
  ALTER TABLE operations ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
  ALTER TABLE operations ADD COLUMN child_key TEXT NOT NULL DEFAULT '';
  ALTER TABLE operations ADD COLUMN phase TEXT NOT NULL DEFAULT '';
  ALTER TABLE operations ADD COLUMN bytes_done INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE operations ADD COLUMN bytes_total INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE operations ADD COLUMN undo_step INTEGER NOT NULL DEFAULT -1;
  ALTER TABLE operations ADD COLUMN failure TEXT NOT NULL DEFAULT '';
  ALTER TABLE operations ADD COLUMN committed INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE operation_steps ADD COLUMN output TEXT NOT NULL DEFAULT '';
  ALTER TABLE operation_steps ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX operations_parent ON operations(parent_id) WHERE parent_id != '';
  CREATE TABLE operation_subjects (
    operation_id TEXT NOT NULL REFERENCES operations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (operation_id, kind, name)
  );
  CREATE INDEX operation_subjects_subject ON operation_subjects(kind, name);
  INSERT INTO operation_subjects (operation_id, kind, name) SELECT id, 'instance', instance_id FROM operations WHERE instance_id != '';
  `,
  // The anti-affinity key gets its own name: "cluster" is for replicated clusters.
  `
  DROP INDEX instances_cluster;
  ALTER TABLE instances RENAME COLUMN cluster TO anti_affinity_group;
  CREATE INDEX instances_anti_affinity_group ON instances(anti_affinity_group) WHERE anti_affinity_group != '';
  `,
  // Replicated clusters. Members stay instance rows (cluster_name, cluster_role); the partial
  // unique index makes "one primary per cluster" a fact of the store, not a hope. fenced: never
  // made writable again (an old primary after a failover) until it is rebuilt. The history is
  // written by switchovers and failovers alike; replication and monitoring passwords are sealed
  // like the admin passwords.
  `
  CREATE TABLE clusters (
    name TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    replication TEXT NOT NULL,
    semi_sync_timeout_ms INTEGER NOT NULL DEFAULT 0,
    flavor TEXT NOT NULL DEFAULT '',
    image TEXT NOT NULL,
    cpu_millis INTEGER NOT NULL,
    memory_bytes INTEGER NOT NULL,
    disk_bytes INTEGER NOT NULL,
    placement TEXT NOT NULL DEFAULT '{}',
    repl_user TEXT NOT NULL,
    repl_password TEXT NOT NULL,
    monitor_user TEXT NOT NULL,
    monitor_password TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  ALTER TABLE instances ADD COLUMN cluster_name TEXT NOT NULL DEFAULT '';
  ALTER TABLE instances ADD COLUMN cluster_role TEXT NOT NULL DEFAULT '';
  ALTER TABLE instances ADD COLUMN fenced INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX instances_cluster_name ON instances(cluster_name) WHERE cluster_name != '';
  CREATE UNIQUE INDEX instances_one_primary ON instances(cluster_name) WHERE cluster_role = 'primary';
  CREATE TABLE cluster_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cluster TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    from_instance TEXT NOT NULL DEFAULT '',
    to_instance TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    operation_id TEXT NOT NULL DEFAULT '',
    blocked_ms INTEGER NOT NULL DEFAULT -1,
    lost_transactions INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    acknowledged INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX cluster_history_cluster ON cluster_history(cluster, id);
  `,
  // A cluster member as last seen while its mysqld answered (the failover trigger's memory): a
  // failover decided right after a manager restart still knows the dead primary's server_uuid
  // and executed set. Goes with the instance.
  `
  CREATE TABLE instance_last_seen (
    instance_id TEXT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    server_uuid TEXT NOT NULL DEFAULT '',
    server_id INTEGER NOT NULL DEFAULT 0,
    executed_gtids TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    seen_at_ms INTEGER NOT NULL
  );
  `,
  // A failover's lost window as measured on the old primary's own data when it was rebuilt
  // (its transactions the promoted replica lacked); -1: not measured (yet).
  `
  ALTER TABLE cluster_history ADD COLUMN measured_lost INTEGER NOT NULL DEFAULT -1;
  `,
  // Data directories berth threw away that mysqld had run on (a failed copy that booted, an
  // abandoned migration target, a fenced old primary): where they went (a disk's trash, kept for
  // --trash-retention) and what they held that the server that stayed lacked. Outlives the
  // instance: that is when a DBA looks for it. unseen_count -1: it could not be read.
  `
  CREATE TABLE discarded_data (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    cluster TEXT NOT NULL DEFAULT '',
    node TEXT NOT NULL,
    path TEXT NOT NULL,
    flavor TEXT NOT NULL,
    image TEXT NOT NULL DEFAULT '',
    unseen_gtids TEXT NOT NULL DEFAULT '',
    unseen_count INTEGER NOT NULL DEFAULT -1,
    reason TEXT NOT NULL,
    operation_id TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
  );
  CREATE INDEX discarded_data_by_name ON discarded_data (instance_name, id);
  `,
  // Revoked certificates (issue 26): one certificate by serial, or every certificate of a kind
  // and name issued up to a time. The largest id is the list's version, which agents compare.
  `
  CREATE TABLE revoked_certs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    serial TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL DEFAULT '',
    name TEXT NOT NULL DEFAULT '',
    issued_before_ms INTEGER NOT NULL DEFAULT 0,
    revoked_at TEXT NOT NULL,
    revoked_by TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    CHECK ((serial <> '') <> (name <> ''))
  );
  CREATE UNIQUE INDEX revoked_certs_serial ON revoked_certs(serial) WHERE serial <> '';
  `,
  // Tables that were made by their classes (IF NOT EXISTS) outside the numbered migrations until
  // now; a database those classes ran on has them already, hence IF NOT EXISTS here too. Portal
  // tokens: only a SHA-256 of each token. Request ids of every mutating portal RPC. Whether an
  // instance's mysqld serves TLS (and requires it); a missing row means none was reported.
  `
  CREATE TABLE IF NOT EXISTS auth_tokens (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS request_ids (
    caller TEXT NOT NULL,
    id TEXT NOT NULL,
    method TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    instance_id TEXT NOT NULL DEFAULT '',
    operation_id TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    PRIMARY KEY (caller, id)
  );
  CREATE INDEX IF NOT EXISTS request_ids_created ON request_ids(created_at);
  CREATE TABLE IF NOT EXISTS instance_tls (
    instance_id TEXT PRIMARY KEY REFERENCES instances(id) ON DELETE CASCADE,
    required INTEGER NOT NULL
  );
  `,
  // The catalog of backups (src/backup/repository.ts): one row per backup berth started or found
  // in its repository. `complete` only once the manifest with every object's checksum is written
  // (the manifest is written last); the repository stays the source of truth and the catalog can
  // be rebuilt from it. No foreign key to instances: a backup outlives its instance.
  `
  CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    instance_id TEXT NOT NULL,
    instance_name TEXT NOT NULL,
    cluster TEXT NOT NULL DEFAULT '',
    flavor TEXT NOT NULL DEFAULT '',
    source_instance TEXT NOT NULL DEFAULT '',
    source_node TEXT NOT NULL DEFAULT '',
    method TEXT NOT NULL DEFAULT '',
    repository TEXT NOT NULL,
    status TEXT NOT NULL,
    stored_bytes INTEGER NOT NULL DEFAULT 0,
    data_bytes INTEGER NOT NULL DEFAULT 0,
    gtid TEXT NOT NULL DEFAULT '',
    operation_id TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    completed_at TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX backups_instance ON backups(instance_name, created_at);
  `,
  // Capacity history (issue 25): the fleet's and each zone's capacity, allocation and measured
  // use, a row a minute kept for a day and a row an hour kept for 90 days (capacity/history.ts).
  // Per node it is Prometheus's job (berth_node_* gauges): 10,000 nodes a minute would be 14
  // million rows a day here. CPU in millicores, memory and disk in bytes.
  `
  CREATE TABLE capacity_history (
    resolution TEXT NOT NULL CHECK (resolution IN ('1m', '1h')),
    scope TEXT NOT NULL CHECK (scope IN ('fleet', 'zone')),
    name TEXT NOT NULL,
    at TEXT NOT NULL,
    cpu_capacity REAL NOT NULL, cpu_allocated REAL NOT NULL, cpu_used REAL NOT NULL,
    memory_capacity REAL NOT NULL, memory_allocated REAL NOT NULL, memory_used REAL NOT NULL,
    disk_capacity REAL NOT NULL, disk_allocated REAL NOT NULL, disk_used REAL NOT NULL,
    instances REAL NOT NULL,
    PRIMARY KEY (resolution, scope, name, at)
  ) WITHOUT ROWID;
  `,
  // The indexes the retention purge reads, made by its class (IF NOT EXISTS) outside the
  // numbered migrations until now: a database it ran on has them already, hence IF NOT EXISTS.
  `
  CREATE INDEX IF NOT EXISTS events_at ON events(at);
  CREATE INDEX IF NOT EXISTS operations_finished ON operations(finished_at) WHERE finished_at != '';
  `,
  // Continuous binlog archiving (docs/backup.md): an archive per cluster that has it turned on,
  // and the pieces sealed into the repository, in the order they were recorded.
  `
  CREATE TABLE binlog_archives (
    cluster TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL,
    flavor TEXT NOT NULL,
    key_id TEXT NOT NULL,
    data_key TEXT NOT NULL,
    node TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    gap TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE binlog_archive_pieces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    cluster TEXT NOT NULL,
    source_instance TEXT NOT NULL,
    file TEXT NOT NULL,
    from_offset INTEGER NOT NULL,
    to_offset INTEGER NOT NULL,
    gtids TEXT NOT NULL,
    before TEXT NOT NULL,
    first_event_at INTEGER NOT NULL,
    last_event_at INTEGER NOT NULL,
    stored_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE INDEX binlog_archive_pieces_cluster ON binlog_archive_pieces(cluster, seq);
  `,
  // Backup policies and restore drills (issue 20 items 4 and 6): a policy per instance, per
  // cluster, or the fleet's default (scope 'fleet', name ''); each drill's outcome and measured
  // restore time, per backed-up instance or cluster (manager/backups/).
  `
  CREATE TABLE backup_policies (
    scope TEXT NOT NULL CHECK (scope IN ('fleet', 'cluster', 'instance')),
    name TEXT NOT NULL,
    schedule TEXT NOT NULL,
    spread_seconds INTEGER NOT NULL DEFAULT 0,
    keep_full INTEGER NOT NULL DEFAULT 0,
    keep_days REAL NOT NULL DEFAULT 0,
    repository TEXT NOT NULL DEFAULT '',
    drill_schedule TEXT NOT NULL DEFAULT '',
    drill_point_in_time INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (scope, name)
  );
  CREATE TABLE backup_drills (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    backup_id TEXT NOT NULL,
    restored_name TEXT NOT NULL DEFAULT '',
    operation_id TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL CHECK (outcome IN ('running', 'verified', 'failed')),
    restore_seconds REAL NOT NULL DEFAULT 0,
    tables INTEGER NOT NULL DEFAULT 0,
    checks TEXT NOT NULL DEFAULT '{}',
    message TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    ended_at TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX backup_drills_target ON backup_drills(target, started_at);
  `,
  // Stable endpoints (docs/endpoints.md): a host:port on a router node per cluster role (rw, ro)
  // and per standalone instance. A port is held on its node like an instance's.
  `
  CREATE TABLE endpoints (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('rw', 'ro', 'instance')),
    cluster_name TEXT NOT NULL DEFAULT '',
    instance_id TEXT NOT NULL DEFAULT '',
    node TEXT NOT NULL,
    port INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (node, port)
  );
  CREATE INDEX endpoints_cluster ON endpoints(cluster_name) WHERE cluster_name != '';
  CREATE INDEX endpoints_instance ON endpoints(instance_id) WHERE instance_id != '';
  `,
  // Consensus clusters (issue 22): the group's name (a UUID), its consistency level and the
  // members' election weight. Empty/0 for replicated clusters.
  `
  ALTER TABLE clusters ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
  ALTER TABLE clusters ADD COLUMN group_consistency TEXT NOT NULL DEFAULT '';
  ALTER TABLE clusters ADD COLUMN member_weight INTEGER NOT NULL DEFAULT 0;
  `,
  // The GTID set a member was known to hold when it was made the primary (a switchover's final
  // set, a failover's chosen set): its agent's next probe may come after it died, and the
  // failover judging it must not take the transactions it caught up on last for errant ones.
  `
  ALTER TABLE instance_last_seen ADD COLUMN promoted_gtids TEXT NOT NULL DEFAULT '';
  `,
  // Incremental backups (issue 20, MariaDB): the backup each one builds on and mariabackup's LSN
  // range (a full backup's too: an incremental's --incremental-lsn is its parent's to_lsn).
  // LSNs are 64-bit: kept as text.
  `
  ALTER TABLE backups ADD COLUMN parent_id TEXT NOT NULL DEFAULT '';
  ALTER TABLE backups ADD COLUMN from_lsn TEXT NOT NULL DEFAULT '';
  ALTER TABLE backups ADD COLUMN to_lsn TEXT NOT NULL DEFAULT '';
  CREATE INDEX backups_parent ON backups(parent_id) WHERE parent_id != '';
  ALTER TABLE backup_policies ADD COLUMN full_every INTEGER NOT NULL DEFAULT 0;
  `,
  // Leadership among managers sharing this store (issue 23): one row, its epoch only rises.
  `
  CREATE TABLE leader_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    portal_address TEXT NOT NULL,
    registry_address TEXT NOT NULL,
    epoch INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
  );
  `,
];

export function openDb(file: string): DB {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('foreign_keys = ON');
  // WAL + NORMAL is durable against process crashes and keeps commits fast; FULL adds an fsync
  // per commit for power loss.
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  // The store holds generated MySQL passwords: readable by the manager's user only.
  if (file !== ':memory:') fs.chmodSync(file, 0o600);
  return db;
}

// `upTo` stops early (tests build a database as an older release left it).
export function migrate(db: DB, upTo = MIGRATIONS.length): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let v = current; v < upTo; v++) {
    // IMMEDIATE, and the version read again inside: two managers opening one store at once
    // must not both apply the same migration.
    db.transaction(() => {
      if ((db.pragma('user_version', { simple: true }) as number) > v) return;
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
}

export const nowIso = () => new Date().toISOString();
