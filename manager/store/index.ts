import { BackupsTable } from './backups';
import { BinlogArchivesTable } from './binlog-archives';
import { BackupPoliciesTable } from './backup-policies';
import { BackupDrillsTable } from './backup-drills';
import { ClustersTable } from './clusters';
import { openDb, type DB } from './db';
import { EndpointsTable } from './endpoints';
import { EventsTable } from './events';
import { InstancesTable } from './instances';
import { NodesTable } from './nodes';
import { OperationsTable } from './operations';
import { RequestsTable } from './requests';
import { InstanceTlsTable } from './instance-tls';
import { LastSeenTable } from './last-seen';
import { DiscardedTable } from './discarded';
import { RevocationsTable } from './revocations';
import { CapacityHistoryTable } from './capacity-history';
import { TokensTable } from './tokens';
import { Retention } from './retention';
import { GroupWriter } from './writer';
import { LeaderLeaseTable } from './leader-lease';

export class Store {
  readonly nodes: NodesTable;
  readonly instances: InstancesTable;
  readonly operations: OperationsTable;
  readonly events: EventsTable;
  readonly requests: RequestsTable;
  readonly instanceTls: InstanceTlsTable;
  readonly clusters: ClustersTable;
  readonly lastSeen: LastSeenTable;
  readonly discarded: DiscardedTable;
  readonly revocations: RevocationsTable;
  readonly capacityHistory: CapacityHistoryTable;
  readonly backups: BackupsTable;
  readonly binlogArchives: BinlogArchivesTable;
  readonly backupPolicies: BackupPoliciesTable;
  readonly backupDrills: BackupDrillsTable;
  readonly tokens: TokensTable;
  readonly endpoints: EndpointsTable;
  readonly retention: Retention;
  readonly writer: GroupWriter;
  readonly leaderLease: LeaderLeaseTable;
  // Run first inside every transaction (set by the leader, manager/leader/): throws when this
  // manager no longer holds the lease, so a deposed leader's writes never reach the store.
  private fenceCheck?: () => void;

  constructor(readonly db: DB) {
    this.writer = new GroupWriter(db);
    this.nodes = new NodesTable(db);
    this.instances = new InstancesTable(db);
    this.operations = new OperationsTable(db);
    this.events = new EventsTable(db);
    this.requests = new RequestsTable(db);
    this.instanceTls = new InstanceTlsTable(db);
    this.clusters = new ClustersTable(db);
    this.lastSeen = new LastSeenTable(db);
    this.discarded = new DiscardedTable(db);
    this.revocations = new RevocationsTable(db);
    this.capacityHistory = new CapacityHistoryTable(db);
    this.backups = new BackupsTable(db);
    this.binlogArchives = new BinlogArchivesTable(db);
    this.backupPolicies = new BackupPoliciesTable(db);
    this.backupDrills = new BackupDrillsTable(db);
    this.tokens = new TokensTable(db);
    this.endpoints = new EndpointsTable(db);
    this.retention = new Retention(db);
    this.leaderLease = new LeaderLeaseTable(db);
  }

  static open(file: string): Store {
    return new Store(openDb(file));
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  // Freed pages are overwritten, so a re-sealed secret's old bytes do not linger in the file.
  secureDelete(): void {
    this.db.pragma('secure_delete = ON');
  }

  // better-sqlite3 is synchronous: a function run here sees and writes one consistent state, and
  // nothing else in this process runs in between.
  tx<T>(fn: () => T): T {
    const check = this.fenceCheck;
    return this.db.transaction(check ? () => (check(), fn()) : fn)();
  }

  // Under WAL a transaction reads one snapshot and a write on a stale snapshot fails, so a
  // check read inside the transaction still holds when it commits.
  fence(check: () => void): void {
    this.fenceCheck = check;
    this.writer.guard = check;
  }

  // Group-committed: resolves once the transaction holding this write is durable (see writer.ts).
  write<T>(fn: () => T, undo?: () => void, committed?: () => void): Promise<T> {
    return this.writer.write(fn, undo, committed);
  }

  close(): void {
    this.writer.flush();
    this.db.close();
  }
}
