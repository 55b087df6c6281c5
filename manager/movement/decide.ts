import type { Flavor, ReplicaThreads } from '../../src/mysql/dialect';
import { contains, count, describe, isEmpty, parseGtidSet, subtract, union, type GtidSet } from '../../src/mysql/gtid';

// Pure decisions of data movement, from gathered status only (MOCO's shape: gather, decide,
// act). The manager-side functions in this folder gather and act.

// A replica's threads as the Dialect reads them (secondsBehind -1 or null: unknown), plus what
// it has executed.
export type ReplicaView = Pick<ReplicaThreads, 'ioRunning' | 'ioConnecting' | 'sqlRunning' | 'secondsBehind' | 'lastIoError' | 'lastSqlError' | 'receivedGtids'> & {
  executedGtids: string;
};

export interface LagLimits {
  // Behind by at most this many seconds (as the replica reports it)...
  maxSeconds: number;
  // ...and at most this many of the source's transactions not yet executed.
  maxTransactions: number;
}

export type Verdict = { ok: true } | { ok: false; reason: string };

export function gtids(flavor: Flavor, text: string): GtidSet {
  return parseGtidSet(flavor, text);
}

// Replication is broken (not merely slow or reconnecting): a thread stopped with an error, or
// the applier stopped.
export function replicationBroken(r: ReplicaView): string | undefined {
  if (!r.sqlRunning) return `the replica's SQL thread is stopped${r.lastSqlError ? `: ${r.lastSqlError}` : ''}`;
  if (!r.ioRunning && !r.ioConnecting) return `the replica's IO thread is stopped${r.lastIoError ? `: ${r.lastIoError}` : ''}`;
  return undefined;
}

// Transactions the replica executed that the source never had: promoting or cutting over to it
// would publish writes nobody made on the source.
export function errantTransactions(flavor: Flavor, replicaExecuted: string, sourceExecuted: string): GtidSet {
  return subtract(gtids(flavor, replicaExecuted), gtids(flavor, sourceExecuted));
}

// How many of the source's transactions the replica has not executed yet.
export function lagTransactions(flavor: Flavor, sourceExecuted: string, replicaExecuted: string): number {
  return count(subtract(gtids(flavor, sourceExecuted), gtids(flavor, replicaExecuted)));
}

export function isCaughtUp(flavor: Flavor, sourceExecuted: string, r: ReplicaView, limits: LagLimits): Verdict {
  const broken = replicationBroken(r);
  if (broken) return { ok: false, reason: broken };
  const errant = errantTransactions(flavor, r.executedGtids, sourceExecuted);
  if (!isEmpty(errant)) return { ok: false, reason: `the replica has transactions the source does not: ${describe(errant)}` };
  const behind = lagTransactions(flavor, sourceExecuted, r.executedGtids);
  if (behind > limits.maxTransactions) return { ok: false, reason: `${behind} transactions behind (limit ${limits.maxTransactions})` };
  const seconds = r.secondsBehind ?? -1;
  if (seconds < 0) return { ok: false, reason: 'the replica cannot tell its lag (a thread is not running)' };
  if (seconds > limits.maxSeconds) return { ok: false, reason: `${seconds} s behind (limit ${limits.maxSeconds} s)` };
  return { ok: true };
}

// A cut-over blocks writes until the replica has applied what remains: start it only when that
// is little, replication works, and the replica has nothing of its own.
export function mayCutOver(flavor: Flavor, sourceExecuted: string, r: ReplicaView, limits: LagLimits): Verdict {
  if (!r.ioRunning) return { ok: false, reason: 'the replica is not connected to the source' };
  return isCaughtUp(flavor, sourceExecuted, r, limits);
}

// After writes stopped on the source: the replica executed everything the source had.
export function hasAll(flavor: Flavor, replicaExecuted: string, sourceFinal: string): boolean {
  return contains(gtids(flavor, replicaExecuted), gtids(flavor, sourceFinal));
}

export interface Candidate {
  name: string;
  receivedGtids: string;
  executedGtids: string;
}

export type Choice = { ok: true; name: string; set: GtidSet } | { ok: false; reason: string; diverged: string[] };

// Failover: the replica whose received + executed transactions contain every other replica's.
// Ties (equal sets) go to the first in the order given (the caller's preference). None such
// means the replicas diverged: promoting any would lose another's transactions.
export function mostAdvanced(flavor: Flavor, candidates: Candidate[]): Choice {
  if (candidates.length === 0) return { ok: false, reason: 'no replica to choose from', diverged: [] };
  const sets = candidates.map((c) => ({ name: c.name, set: union(gtids(flavor, c.receivedGtids), gtids(flavor, c.executedGtids)) }));
  const best = sets.find((c) => sets.every((o) => contains(c.set, o.set)));
  if (best) return { ok: true, name: best.name, set: best.set };
  const notContained = sets.filter((c) => !sets.some((o) => o !== c && contains(o.set, c.set))).map((c) => c.name);
  return { ok: false, reason: `no replica has every other's transactions (${notContained.join(', ')} each have some the others lack)`, diverged: notContained };
}

// ---- Failover (manager/operations/cluster-failover.ts) ----

// The dead primary as last reported: its executed set (stale by up to a heartbeat) and its
// origin id in GTIDs (MySQL server_uuid, MariaDB server_id).
export interface LastPrimary {
  executedGtids: string;
  serverUuid: string;
  serverId: number;
}

// Transactions a replica executed that did not come from the primary: those beyond the
// primary's last known set whose origin is not the primary (it may have replicated newer ones
// after its last report; those are legitimate). MySQL names the origin per transaction (the
// uuid); MariaDB keeps, per domain, the server id of the last transaction, which under strict
// mode is the replica's own when it wrote there itself.
export function errantForFailover(flavor: Flavor, replicaExecuted: string, primary: LastPrimary): GtidSet {
  return notFrom(subtract(gtids(flavor, replicaExecuted), gtids(flavor, primary.executedGtids)), primary);
}

// A failover's lost window: what the old primary had committed (read from its own data when it
// is rebuilt) that the promoted replica lacked at its promotion. Against the promoted set, not
// the primary's current one: on MariaDB the new primary's later transactions reuse the same
// domain's sequence numbers and would hide them.
export function lostWindow(flavor: Flavor, oldPrimaryExecuted: string, promotedExecuted: string): GtidSet {
  return subtract(gtids(flavor, oldPrimaryExecuted), gtids(flavor, promotedExecuted));
}

// The part of a set that did not originate on the server named (by uuid on MySQL, by the last
// server id per domain on MariaDB).
export function notFrom(set: GtidSet, origin: Pick<LastPrimary, 'serverUuid' | 'serverId'>): GtidSet {
  const sources = new Map([...set.sources].filter(([k]) => (set.flavor === 'mysql' ? !sameOrigin(k, origin.serverUuid) : set.serverIds.get(k) !== origin.serverId)));
  return { flavor: set.flavor, sources, serverIds: new Map([...set.serverIds].filter(([k]) => sources.has(k))) };
}

function sameOrigin(key: string, uuid: string): boolean {
  if (!uuid) return false;
  const own = [...gtids('mysql', `${uuid}:1`).sources.keys()][0];
  return key === own || key.startsWith(`${own}:`);
}

// A replica as gathered after its IO thread was stopped.
export interface FailoverCandidate extends Candidate {
  sqlRunning: boolean;
  lastSqlError: string;
  lastIoError: string;
}

export interface FailoverLimits {
  // Received but not yet applied: more than this cannot be applied within the failover's bound.
  maxRelayTransactions: number;
}

export type FailoverChoice =
  | { ok: true; name: string; set: GtidSet; refused: { name: string; reason: string }[] }
  | { ok: false; reason: string; refused: { name: string; reason: string }[] };

// Whether a replica may be promoted, and why not.
export function refusal(flavor: Flavor, c: FailoverCandidate, primary: LastPrimary, limits: FailoverLimits): string | undefined {
  const errant = errantForFailover(flavor, c.executedGtids, primary);
  if (!isEmpty(errant)) return `errant transactions ${describe(errant)} (written on the replica, not on the primary)`;
  if (!c.sqlRunning || c.lastSqlError) return `its replication was broken${c.lastSqlError ? `: ${c.lastSqlError}` : ' (SQL thread stopped)'}`;
  if (/fatal error/i.test(c.lastIoError)) return `its replication was broken: ${c.lastIoError}`;
  const backlog = count(subtract(gtids(flavor, c.receivedGtids), gtids(flavor, c.executedGtids)));
  if (backlog > limits.maxRelayTransactions) return `${backlog} received transactions not applied (limit ${limits.maxRelayTransactions})`;
  return undefined;
}

// Failover's choice: among the replicas that may be promoted, the one whose received + executed
// transactions contain every other replica's (their errant ones excepted: those are refused, not
// waited for). None such: abort, since promoting any would lose acknowledged transactions.
export function chooseFailoverCandidate(flavor: Flavor, candidates: FailoverCandidate[], primary: LastPrimary, limits: FailoverLimits): FailoverChoice {
  const refused = candidates.flatMap((c) => {
    const reason = refusal(flavor, c, primary, limits);
    return reason ? [{ name: c.name, reason }] : [];
  });
  const eligible = candidates.filter((c) => !refused.some((r) => r.name === c.name));
  if (eligible.length === 0) return { ok: false, reason: `no replica may be promoted: ${refused.map((r) => `${r.name}: ${r.reason}`).join('; ') || 'there are none'}`, refused };
  const best = mostAdvanced(flavor, eligible);
  if (!best.ok) return { ok: false, reason: best.reason, refused };
  for (const c of candidates) {
    const legit = subtract(union(gtids(flavor, c.receivedGtids), gtids(flavor, c.executedGtids)), errantForFailover(flavor, c.executedGtids, primary));
    const missing = subtract(legit, best.set);
    if (!isEmpty(missing)) return { ok: false, reason: `${best.name} lacks ${describe(missing)} that ${c.name} has, and ${c.name} may not be promoted`, refused };
  }
  return { ok: true, name: best.name, set: best.set, refused };
}
