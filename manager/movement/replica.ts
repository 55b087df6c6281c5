import { randomBytes } from 'node:crypto';
import type { AgentReplicaStatus__Output } from '../../src/gen/berth/v1/AgentReplicaStatus';
import { isCaughtUp, lagTransactions, replicationBroken, type LagLimits } from './decide';
import type { CopyResult } from './copy';
import { sleep, throwIfAborted, type Endpoint, type MovementOptions } from './types';

// The account a replica reads the source's binlog with; only REPLICATION SLAVE, dropped again
// by releaseReplica once the replica no longer needs it.
export interface ReplicaLink {
  user: string;
  host: string;
  // The account is the cluster's, present on every member: releaseReplica leaves it alone.
  shared?: boolean;
}

const POLL_MS = 200;

// Points `target` (a copy of `source`) at the source from where the copy ends and starts
// replication: a replication user with a generated password on the source (kept out of the
// source's binlog), then the target's replica configuration, then both threads running.
// A cluster passes its own replication account (`account`, made once on the primary and
// binlogged to every member) instead of a per-replica one.
export async function makeReplica(
  target: Endpoint,
  source: Endpoint,
  from: Pick<CopyResult, 'gtidPosition' | 'positionApplied'>,
  opts: MovementOptions & { startTimeoutMs?: number; account?: { user: string; password: string } } = {},
): Promise<ReplicaLink> {
  const shared = opts.account;
  const link: ReplicaLink = shared ? { user: shared.user, host: '%', shared: true } : { user: `berth_repl_${target.id.slice(2, 14)}`, host: '%' };
  const password = shared?.password ?? randomBytes(18).toString('base64url');
  if (!shared) await source.agent.createReplicationUser({ id: source.id, user: link.user, host: link.host, password });
  try {
    // Read-only (and super_read_only on MySQL): a replica that takes a write diverges from its
    // source.
    await target.agent.setReadOnly({ id: target.id, readOnly: true });
    await target.agent.configureReplica({
      id: target.id,
      sourceHost: source.host,
      sourcePort: source.port,
      user: link.user,
      password,
      gtidPosition: from.positionApplied ? '' : from.gtidPosition,
      start: true,
    });
    await waitRunning(target, opts.startTimeoutMs ?? 30_000, opts.signal);
  } catch (err) {
    await target.agent.resetReplica({ id: target.id }).catch(() => undefined);
    await releaseReplica(source, link).catch(() => undefined);
    throw err;
  }
  opts.onProgress?.({ phase: 'replicating' });
  return link;
}

// Points a server that already holds the source's history (a replica of the old primary, or
// the old primary itself after a switchover) at `source`, going on from what it has executed
// (GTID auto-positioning; MariaDB current_pos), and waits until both threads run. Read-only
// first, and kept so across restarts (persist), so a re-pointed server never takes a write.
export async function repointReplica(replica: Endpoint, source: Endpoint, account: { user: string; password: string }, opts: MovementOptions & { startTimeoutMs?: number } = {}): Promise<void> {
  await replica.agent.setReadOnly({ id: replica.id, readOnly: true, persist: true });
  await replica.agent.configureReplica({ id: replica.id, sourceHost: source.host, sourcePort: source.port, user: account.user, password: account.password, gtidPosition: '', start: true });
  await waitRunning(replica, opts.startTimeoutMs ?? 30_000, opts.signal);
}

async function waitRunning(target: Endpoint, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    throwIfAborted(signal);
    const s = await target.agent.getReplicaStatus({ id: target.id });
    if (s.ioRunning && s.sqlRunning) return;
    const broken = replicationBroken(view(s));
    if (broken && (s.lastIoError || s.lastSqlError)) throw new Error(`replication of ${target.id} did not start: ${broken}`);
    if (Date.now() > deadline) throw new Error(`replication of ${target.id} did not start within ${timeoutMs / 1000} s (${broken ?? 'connecting'})`);
    await sleep(POLL_MS, signal);
  }
}

export async function releaseReplica(source: Endpoint, link: ReplicaLink): Promise<void> {
  if (link.shared) return;
  await source.agent.dropReplicationUser({ id: source.id, user: link.user, host: link.host });
}

export interface CatchUpResult {
  lagTransactions: number;
  secondsBehind: number;
  waitedMs: number;
}

// Waits until the replica is within `limits` of the source (status gathered from both agents,
// judged by the pure isCaughtUp). Fails at once when replication breaks, or at the deadline.
export async function catchUp(target: Endpoint, source: Endpoint, limits: LagLimits, opts: MovementOptions & { deadlineMs: number }): Promise<CatchUpResult> {
  const t0 = Date.now();
  for (;;) {
    throwIfAborted(opts.signal);
    const src = await source.agent.getReplicaStatus({ id: source.id });
    const rep = await target.agent.getReplicaStatus({ id: target.id });
    const lag = lagTransactions(source.flavor, src.executedGtids, rep.executedGtids);
    opts.onProgress?.({ phase: 'catch-up', lagSeconds: rep.secondsBehind, lagTransactions: lag });
    const v = isCaughtUp(source.flavor, src.executedGtids, view(rep), limits);
    if (v.ok) return { lagTransactions: lag, secondsBehind: rep.secondsBehind, waitedMs: Date.now() - t0 };
    const broken = replicationBroken(view(rep));
    if (broken) throw new Error(`replication of ${target.id} from ${source.id} broke: ${broken}`);
    if (Date.now() - t0 > opts.deadlineMs) throw new Error(`replica ${target.id} did not catch up within ${opts.deadlineMs / 1000} s: ${v.reason}`);
    await sleep(POLL_MS, opts.signal);
  }
}

export function view(s: AgentReplicaStatus__Output) {
  return { ...s, secondsBehind: s.secondsBehind < 0 ? null : s.secondsBehind };
}
