import type { DB } from './db';
import { nowIso } from './db';
import { secretContext, type SecretBox } from '../../src/security/secretbox';

// Each sealed password is bound to its cluster row and column (secretbox.ts).
export const replContext = (name: string) => secretContext('clusters', 'repl_password', name);
export const monitorContext = (name: string) => secretContext('clusters', 'monitor_password', name);

// creating: members being built; running; deleting; failed (a create or delete that could not
// finish: the message says what is left).
export type ClusterState = 'creating' | 'running' | 'deleting' | 'failed';
// group: a consensus cluster (MySQL Group Replication): the group elects its primary.
export type ReplicationMode = 'async' | 'semi-sync' | 'group';

// What the members were placed with, so an added replica is placed the same way.
export interface ClusterPlacement {
  constraints: string[];
  spreadOver: string;
  strategy: string;
}

export interface ClusterRow {
  name: string;
  state: ClusterState;
  replication: ReplicationMode;
  // semi-sync: the primary goes on asynchronously after this long without an acknowledgement.
  semiSyncTimeoutMs: number;
  flavor: string;
  image: string;
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
  placement: ClusterPlacement;
  // The account replicas read the primary's binlog with (REPLICATION SLAVE only) and the one
  // the manager reads replication status with; the same on every member (created binlogged on
  // the primary, so copies and replicas have them too).
  replUser: string;
  replPassword: string;
  monitorUser: string;
  monitorPassword: string;
  message: string;
  createdAt: string;
  updatedAt: string;
  // Consensus clusters: the group's name (a UUID made at create), its consistency level and the
  // members' weight in the group's primary election; empty and 0 otherwise.
  groupName: string;
  groupConsistency: string;
  memberWeight: number;
}

type GroupFields = 'groupName' | 'groupConsistency' | 'memberWeight';
export type NewCluster = Omit<ClusterRow, 'createdAt' | 'updatedAt' | 'message' | GroupFields> & Partial<Pick<ClusterRow, GroupFields>>;

export type HistoryKind = 'switchover' | 'failover';
export type HistoryOutcome = 'done' | 'aborted' | 'failed';

export interface ClusterHistoryRow {
  id: number;
  cluster: string;
  kind: HistoryKind;
  outcome: HistoryOutcome;
  // Instance ids.
  fromInstance: string;
  toInstance: string;
  startedAt: string;
  finishedAt: string;
  operationId: string;
  // -1: not measured.
  blockedMs: number;
  lostTransactions: number;
  // The failover's real lost window, measured on the old primary's data by its rebuild; -1: not
  // measured.
  measuredLost: number;
  reason: string;
  message: string;
  acknowledged: boolean;
}

export type NewHistory = Omit<ClusterHistoryRow, 'id' | 'finishedAt' | 'acknowledged' | 'blockedMs' | 'lostTransactions' | 'measuredLost' | 'reason' | 'message' | 'operationId'> &
  Partial<Pick<ClusterHistoryRow, 'finishedAt' | 'blockedMs' | 'lostTransactions' | 'reason' | 'message' | 'operationId'>>;

const COLUMNS = `name, state, replication, semi_sync_timeout_ms AS semiSyncTimeoutMs, flavor, image, cpu_millis AS cpuMillis,
  memory_bytes AS memoryBytes, disk_bytes AS diskBytes, placement, repl_user AS replUser, repl_password AS replPassword,
  monitor_user AS monitorUser, monitor_password AS monitorPassword, message, created_at AS createdAt, updated_at AS updatedAt,
  group_name AS groupName, group_consistency AS groupConsistency, member_weight AS memberWeight`;

const HISTORY = `id, cluster, kind, outcome, from_instance AS fromInstance, to_instance AS toInstance, started_at AS startedAt,
  finished_at AS finishedAt, operation_id AS operationId, blocked_ms AS blockedMs, lost_transactions AS lostTransactions,
  measured_lost AS measuredLost, reason, message, acknowledged`;

type Raw = Omit<ClusterRow, 'placement'> & { placement: string };

export class ClustersTable {
  private readonly q;
  private box?: SecretBox;

  constructor(db: DB) {
    this.q = {
      insert: db.prepare(`
        INSERT INTO clusters (name, state, replication, semi_sync_timeout_ms, flavor, image, cpu_millis, memory_bytes, disk_bytes, placement,
                              repl_user, repl_password, monitor_user, monitor_password, created_at, updated_at, group_name, group_consistency, member_weight)
        VALUES (@name, @state, @replication, @semiSyncTimeoutMs, @flavor, @image, @cpuMillis, @memoryBytes, @diskBytes, @placement,
                @replUser, @replPassword, @monitorUser, @monitorPassword, @now, @now, @groupName, @groupConsistency, @memberWeight)`),
      get: db.prepare(`SELECT ${COLUMNS} FROM clusters WHERE name = ?`),
      all: db.prepare(`SELECT ${COLUMNS} FROM clusters ORDER BY name`),
      setState: db.prepare('UPDATE clusters SET state = @state, message = COALESCE(@message, message), flavor = COALESCE(@flavor, flavor), updated_at = @now WHERE name = @name'),
      delete: db.prepare('DELETE FROM clusters WHERE name = ?'),
      secrets: db.prepare('SELECT name, repl_password AS repl, monitor_password AS monitor FROM clusters'),
      setSecrets: db.prepare('UPDATE clusters SET repl_password = ?, monitor_password = ? WHERE name = ?'),
      addHistory: db.prepare(`
        INSERT INTO cluster_history (cluster, kind, outcome, from_instance, to_instance, started_at, finished_at, operation_id, blocked_ms,
                                     lost_transactions, reason, message)
        VALUES (@cluster, @kind, @outcome, @fromInstance, @toInstance, @startedAt, @finishedAt, @operationId, @blockedMs, @lostTransactions, @reason, @message)
        RETURNING id`),
      history: db.prepare(`SELECT ${HISTORY} FROM cluster_history WHERE cluster = ? ORDER BY id DESC LIMIT ?`),
      lastOf: db.prepare(`SELECT ${HISTORY} FROM cluster_history WHERE cluster = ? AND kind = ? ORDER BY id DESC LIMIT 1`),
      acknowledge: db.prepare('UPDATE cluster_history SET acknowledged = 1 WHERE id = ?'),
      setMeasuredLost: db.prepare('UPDATE cluster_history SET measured_lost = ? WHERE id = ?'),
      deleteHistory: db.prepare('DELETE FROM cluster_history WHERE cluster = ?'),
    };
  }

  useSecrets(box: SecretBox): void {
    this.box = box;
  }

  private seal(s: string, context: string): string {
    return this.box ? this.box.seal(s, context) : s;
  }


  private open(r: Raw | undefined): ClusterRow | undefined {
    if (!r) return undefined;
    const o = (s: string, context: string) => (this.box ? this.box.open(s, context) : s);
    return { ...r, placement: JSON.parse(r.placement) as ClusterPlacement, replPassword: o(r.replPassword, replContext(r.name)), monitorPassword: o(r.monitorPassword, monitorContext(r.name)) };
  }

  insert(c: NewCluster): ClusterRow {
    this.q.insert.run({ groupName: '', groupConsistency: '', memberWeight: 0, ...c, placement: JSON.stringify(c.placement), replPassword: this.seal(c.replPassword, replContext(c.name)), monitorPassword: this.seal(c.monitorPassword, monitorContext(c.name)), now: nowIso() });
    return this.get(c.name)!;
  }

  get(name: string): ClusterRow | undefined {
    return this.open(this.q.get.get(name) as Raw | undefined);
  }

  all(): ClusterRow[] {
    return (this.q.all.all() as Raw[]).map((r) => this.open(r)!);
  }

  setState(name: string, state: ClusterState, u: { message?: string; flavor?: string } = {}): void {
    this.q.setState.run({ name, state, message: u.message ?? null, flavor: u.flavor ?? null, now: nowIso() });
  }

  delete(name: string): void {
    this.q.delete.run(name);
    this.q.deleteHistory.run(name);
  }

  // Stored (sealed or plain) passwords, for sealing under a new key (auth/secret-key.ts).
  storedSecrets(): { name: string; repl: string; monitor: string }[] {
    return this.q.secrets.all() as { name: string; repl: string; monitor: string }[];
  }

  setStoredSecrets(name: string, repl: string, monitor: string): void {
    this.q.setSecrets.run(repl, monitor, name);
  }

  addHistory(h: NewHistory): number {
    const finishedAt = h.finishedAt ?? nowIso();
    const row = this.q.addHistory.get({
      operationId: '',
      blockedMs: -1,
      lostTransactions: 0,
      reason: '',
      message: '',
      ...h,
      finishedAt,
    }) as { id: number };
    return row.id;
  }

  // Newest first.
  history(cluster: string, limit = 100): ClusterHistoryRow[] {
    return (this.q.history.all(cluster, limit) as ClusterHistoryRow[]).map((r) => ({ ...r, acknowledged: Boolean(r.acknowledged) }));
  }

  lastOfKind(cluster: string, kind: HistoryKind): ClusterHistoryRow | undefined {
    const r = this.q.lastOf.get(cluster, kind) as ClusterHistoryRow | undefined;
    return r && { ...r, acknowledged: Boolean(r.acknowledged) };
  }

  acknowledge(id: number): void {
    this.q.acknowledge.run(id);
  }

  setMeasuredLost(id: number, transactions: number): void {
    this.q.setMeasuredLost.run(transactions, id);
  }
}
