import { errorMessage } from '../../src/errors';
import { chooseSwitchoverTarget } from '../clusters/decide';
import type { MemberStatus } from '../clusters/health';
import { endpointOf, memberRow, mustCluster, primaryOf } from '../clusters/members';
import { CutOverIncomplete, cutOver, type CutOverRoutes, isCaughtUp, lagTransactions, replicationBroken, repointReplica, type MovementProgress } from '../movement/index';
import { view } from '../movement/replica';
import { sleep } from '../movement/types';
import { applyRate, catchUpLimits, type ApplySample } from '../clusters/catchup';
import type { Flavor } from '../../src/mysql/dialect';
import { count, describe, isEmpty, parseGtidSet } from '../../src/mysql/gtid';
import { errantTransactions } from '../movement/decide';
import { failedPrecondition } from '../../src/errors';
import type { OperationDeps } from './deps';
import { clusterSubjects, findCluster, memberOf, mustBeRunning } from './cluster-common';
import type { Admission, OperationType, StepContext } from './types';

export interface SwitchoverParams {
  cluster: string;
  // The replica to promote (id); empty: the most advanced fit one.
  to?: string;
}

type Ctx = StepContext<SwitchoverParams>;

// To a named replica (an id or a name), or the most advanced fit one; never a fenced member.
function admitSwitchover(d: OperationDeps, r: SwitchoverParams): Admission<SwitchoverParams> {
  const c = findCluster(d, r.cluster);
  mustBeRunning(c);
  let target: string | undefined;
  if (r.to) {
    const i = memberOf(d, c, r.to);
    if (i.clusterRole === 'primary') throw failedPrecondition(`${i.name} is the primary of ${c.name} already`);
    if (i.fenced) throw failedPrecondition(`${i.name} is fenced: it is never made a primary until rebuilt`);
    target = i.id;
  } else if (!d.fleet.store.instances.inCluster(c.name).some((m) => m.clusterRole === 'replica' && !m.fenced)) {
    throw failedPrecondition(`cluster ${c.name} has no replica to switch over to`);
  }
  const params = { cluster: c.name, ...(target ? { to: target } : {}) };
  d.fleet.event('cluster-switchover.started', c.name, `cluster-switchover of cluster ${c.name}${target ? ` ${JSON.stringify(params)}` : ''}`);
  return { params, subjects: clusterSubjects(d, c.name), ifBusy: 'refuse' };
}
interface Chosen {
  from: string;
  to: string;
  startedAt: string;
}
interface CutOut {
  blockedMs: number;
  finalGtid: string;
  killed: number;
}

// Catch-up ends this close to the primary; the cut-over then blocks writes for at most
// cutOverDeadlineMs before it gives them back to the old primary (an abort).
// applyMs: the catch-up also ends when the candidate applies what it lacks within this long.
export const SWITCHOVER = { lag: { maxSeconds: 1, maxTransactions: 50 }, applyMs: 1000, catchUpDeadlineMs: 60_000, graceMs: 200, cutOverDeadlineMs: 5000 };

// Planned and lossless, on manager/movement's cut-over: choose the target, let it catch up, then
// old primary read-only, writers killed after a grace, target caught up to the old primary's
// final set (or abort: the old primary takes writes again), target writable and the store's
// primary in one go (the point of no return), then every other member and the old primary
// re-pointed at it as replicas. Recorded in the cluster's history either way.
export function clusterSwitchoverOperation(d: OperationDeps): OperationType<SwitchoverParams> {
  const history = (ctx: Ctx, outcome: 'done' | 'aborted' | 'failed', extra: { blockedMs?: number; reason?: string } = {}) => {
    const c = ctx.output<Chosen>('choose');
    d.fleet.recordClusterHistory({ cluster: ctx.params.cluster, kind: 'switchover', outcome, fromInstance: c?.from ?? '', toInstance: c?.to ?? ctx.params.to ?? '', startedAt: c?.startedAt ?? new Date().toISOString(), operationId: ctx.opId, ...extra });
  };
  return {
    type: 'cluster-switchover',
    admit: (r) => admitSwitchover(d, r),
    failed: (ctx, f) => history(ctx, 'aborted', { reason: f.error }),
    stuck: (ctx, error) => history(ctx, 'failed', { blockedMs: ctx.output<CutOut>('cut-over')?.blockedMs, reason: `needs a person: ${error}` }),
    steps: [
      { name: 'choose', run: (ctx) => choose(d, ctx) },
      { name: 'catch-up', timeoutMs: SWITCHOVER.catchUpDeadlineMs + 10_000, run: (ctx) => doCatchUp(d, ctx) },
      { name: 'cut-over', pointOfNoReturn: true, timeoutMs: 60_000, run: (ctx) => doCutOver(d, ctx), undo: (ctx) => restoreWrites(d, ctx) },
      // Its own step, before any re-pointing: a retried re-point would otherwise read an old
      // primary that already replicates the new one, and take the new primary's writes for its own.
      { name: 'check-old-primary', run: (ctx) => fenceDivergedOldPrimary(d, ctx) },
      {
        name: 'repoint',
        retries: 3,
        backoffMs: 1000,
        run: async (ctx) => {
          await repointOthers(d, ctx.params.cluster, ctx.output<Chosen>('choose')!.to, ctx.signal);
          history(ctx, 'done', { blockedMs: ctx.output<CutOut>('cut-over')?.blockedMs });
        },
      },
    ],
  };
}

const statusOf = (d: OperationDeps, id: string): Promise<MemberStatus | undefined> => {
  const i = memberRow(d, id);
  return d.agents.for(i.node).getReplicaStatus({ id }, 5000).catch(() => undefined);
};

async function choose(d: OperationDeps, ctx: Ctx): Promise<Chosen> {
  const done = ctx.output<Chosen>('choose');
  if (done) return done;
  const c = mustCluster(d, ctx.params.cluster);
  const p = primaryOf(d, c.name);
  const replicas = d.fleet.store.instances.inCluster(c.name).filter((m) => m.clusterRole === 'replica');
  const facts = await Promise.all(replicas.map(async (r) => ({ id: r.id, name: r.name, fenced: r.fenced, state: r.state, status: await statusOf(d, r.id) })));
  // The primary after its replicas: while it takes writes, a set read earlier would make a
  // replica that is merely up to date look errant.
  const ps = await statusOf(d, p.id);
  if (!ps) throw new Error(`the primary ${p.name} did not answer: a switchover needs it (a failover does not)`);
  const pick = chooseSwitchoverTarget((p.flavor || c.flavor) as Flavor, ps.executedGtids, facts, ctx.params.to);
  if (!pick.ok) throw new Error(`switchover of ${c.name} refused: ${pick.reason}`);
  return { from: p.id, to: pick.id, startedAt: new Date().toISOString() };
}

const report = (ctx: Ctx) => (p: MovementProgress) => ctx.progress({ phase: p.lagTransactions !== undefined ? `${p.phase} (lag ${p.lagTransactions} transactions)` : p.phase });

// Until the candidate is close enough (clusters/catchup.ts: the fixed limits, or what it
// applies in SWITCHOVER.applyMs at its measured rate), judged by the movement library's
// isCaughtUp; fails at once when its replication breaks, or at the deadline with the reason.
async function doCatchUp(d: OperationDeps, ctx: Ctx): Promise<{ waitedMs: number; lagTransactions: number; maxTransactions: number }> {
  const { from, to } = ctx.output<Chosen>('choose')!;
  const src = endpointOf(d, memberRow(d, from));
  const tgt = endpointOf(d, memberRow(d, to));
  const t0 = Date.now();
  const samples: ApplySample[] = [];
  for (;;) {
    const s = await src.agent.getReplicaStatus({ id: src.id }, 5000);
    const r = await tgt.agent.getReplicaStatus({ id: tgt.id }, 5000);
    samples.push({ atMs: Date.now(), executed: count(parseGtidSet(tgt.flavor, r.executedGtids)) });
    while (samples.length > 2 && samples[0]!.atMs < Date.now() - 3000) samples.shift();
    const limits = catchUpLimits(SWITCHOVER.lag, samples, SWITCHOVER.applyMs);
    const lag = lagTransactions(src.flavor, s.executedGtids, r.executedGtids);
    ctx.progress({ phase: `catch-up (lag ${lag} transactions, limit ${limits.maxTransactions})` });
    const v = isCaughtUp(src.flavor, s.executedGtids, view(r), limits);
    if (v.ok) return { waitedMs: Date.now() - t0, lagTransactions: lag, maxTransactions: limits.maxTransactions };
    const broken = replicationBroken(view(r));
    if (broken) throw new Error(`replication of ${tgt.id} from ${src.id} broke: ${broken}`);
    if (Date.now() - t0 > SWITCHOVER.catchUpDeadlineMs) throw new Error(`replica ${tgt.id} did not catch up within ${SWITCHOVER.catchUpDeadlineMs / 1000} s: ${v.reason}, applying ${Math.round(applyRate(samples))} transactions/s (it does not keep up with the primary's writes; the primary takes writes as before)`);
    await sleep(200, ctx.signal);
  }
}

async function doCutOver(d: OperationDeps, ctx: Ctx): Promise<CutOut> {
  const done = ctx.output<CutOut>('cut-over');
  if (done) return done;
  const { from, to } = ctx.output<Chosen>('choose')!;
  const src = endpointOf(d, memberRow(d, from));
  const tgt = endpointOf(d, memberRow(d, to));
  const routes = switchoverRoutes(d, ctx.params.cluster, from, to);
  let out: CutOut;
  try {
    const r = await cutOver(src, tgt, { graceMs: SWITCHOVER.graceMs, deadlineMs: SWITCHOVER.cutOverDeadlineMs, onProgress: report(ctx), bootReadOnly: true, routes });
    if (!r.ok) throw new Error(`cut-over abandoned after ${r.blockedMs} ms, ${memberRow(d, from).name} takes writes again: ${r.reason}`);
    out = { blockedMs: r.blockedMs, finalGtid: r.finalGtid, killed: r.killed };
  } catch (err) {
    if (!(err instanceof CutOverIncomplete)) {
      d.endpoints?.release(ctx.params.cluster);
      throw err;
    }
    // The old primary is read-only for good and the target has every transaction: finish.
    await tgt.agent.resetReplica({ id: tgt.id });
    await routes?.beforeTargetWritable();
    // Not persisted: a cluster member boots read-only whatever its role (the manager opens it).
    await tgt.agent.setReadOnly({ id: tgt.id, readOnly: false });
    out = { blockedMs: -1, finalGtid: '', killed: 0 };
  }
  // Clients asking for the primary's endpoint learn the new one from here on.
  // With the final set it waited for: a failover right after judges the new primary by it.
  d.fleet.setPrimary(ctx.params.cluster, to, `switchover from ${memberRow(d, from).name}${out.blockedMs >= 0 ? `, writes blocked ${out.blockedMs} ms` : ''}`, out.finalGtid);
  // The store names the new primary: the stable endpoints follow it from here.
  d.endpoints?.release(ctx.params.cluster);
  return out;
}

// The rw endpoint during the cut-over: closed (sessions to the old primary shut) once it is
// read-only, to the target before it is writable, back to the old primary if abandoned.
function switchoverRoutes(d: OperationDeps, cluster: string, from: string, to: string): CutOverRoutes | undefined {
  const e = d.endpoints;
  if (!e) return undefined;
  return {
    sourceReadOnly: async () => void (await e.route(cluster, null)),
    beforeTargetWritable: async () => void (await e.route(cluster, to)),
    beforeSourceWritable: async () => void (await e.route(cluster, from)),
  };
}

// A commit that was waiting (for a semi-sync acknowledgement, or in the group commit queue
// behind one) when the old primary turned read-only can still complete after its final set was
// read. Its transactions are then on the old primary only: re-pointed with GTID
// auto-positioning it would carry them as its own (and a later switchover back onto it fails
// catch-up with "transactions the source does not have"). Such an old primary is fenced
// instead, with what it has in an event; the reconciler rebuilds it from a copy.
async function fenceDivergedOldPrimary(d: OperationDeps, ctx: Ctx): Promise<void> {
  const { from, to } = ctx.output<Chosen>('choose')!;
  const old = memberRow(d, from);
  if (old.fenced) return;
  // Against the final set the cut-over read (not the new primary's set: on MariaDB its own new
  // writes reuse the sequence numbers and would hide the old primary's late ones).
  const final = ctx.output<CutOut>('cut-over')?.finalGtid;
  const o = final ? await statusOf(d, from) : undefined;
  if (!final || !o) return;
  const flavor = (old.flavor || mustCluster(d, ctx.params.cluster).flavor) as Flavor;
  const extra = errantTransactions(flavor, o.executedGtids, final);
  if (isEmpty(extra)) return;
  d.fleet.fenceInstance(from, `after the switchover of ${ctx.params.cluster} it had transactions the new primary lacks: ${describe(extra)}`);
  d.fleet.event('cluster.switchover.diverged', ctx.params.cluster, `${old.name} committed ${describe(extra)} after its final set was read: fenced, to be rebuilt from a copy of ${memberRow(d, to).name}`);
}

// The cut-over failed for good before the store switched: whatever the target became, it is a
// read-only replica of the old primary again, and only then does the old primary take writes.
async function restoreWrites(d: OperationDeps, ctx: Ctx): Promise<void> {
  const chosen = ctx.output<Chosen>('choose');
  if (!chosen) return;
  if (d.fleet.store.instances.get(chosen.to)?.clusterRole === 'primary') throw new Error('the store names the target as the primary already: finish the switchover instead');
  const c = mustCluster(d, ctx.params.cluster);
  const src = endpointOf(d, memberRow(d, chosen.from));
  await repointReplica(endpointOf(d, memberRow(d, chosen.to)), src, { user: c.replUser, password: c.replPassword });
  await src.agent.setReadOnly({ id: src.id, readOnly: false });
}

// The old primary and every other replica replicate from the new primary. Fenced members are
// left alone (they are rebuilt, never re-pointed).
export async function repointOthers(d: OperationDeps, cluster: string, primaryId: string, signal?: AbortSignal): Promise<void> {
  const c = mustCluster(d, cluster);
  const source = endpointOf(d, memberRow(d, primaryId));
  const others = d.fleet.store.instances.inCluster(cluster).filter((m) => m.id !== primaryId && !m.fenced);
  const results = await Promise.allSettled(others.map((m) => repointReplica(endpointOf(d, m), source, { user: c.replUser, password: c.replPassword }, { signal })));
  const bad = others.filter((_, k) => results[k]!.status === 'rejected');
  if (bad.length) throw new Error(`could not re-point ${bad.map((m) => m.name).join(', ')}: ${errorMessage((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason)}`);
}
