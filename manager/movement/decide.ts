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
