import { errorMessage } from '../../src/errors';
import type { Flavor } from '../../src/mysql/dialect';
import type { Shape } from '../../src/validate';
import { failedPrecondition } from '../../src/errors';
import { memberMoveRefusal } from '../clusters/guard';
import { reserveAt, reserveTarget, type TargetReservation, type Where } from './reservation';
import { catchUp, copy, discardCopy, makeReplica, promote, releaseReplica, stopWrites, type WritesStopped, type CopyResult, type Endpoint, type MovementProgress, type ReplicaLink, type TargetEndpoint } from '../movement/index';
import type { InstanceRow } from '../store/instances';
import type { OperationDeps } from './deps';
import { agentCreateRequest, discardRecorder, mustInstance } from './deps';
import type { Admission, AdmitContext, OperationType, StepContext } from './types';

export interface MigrateParams {
  instanceId: string;
  to: Shape;
  from?: Shape;
  // Reserved when the operation was recorded (a resize); a drain's children reserve in step 0.
  reservationId?: string;
  source?: { node: string; diskPath: string; port: number };
  target?: { node: string; diskPath: string; port: number };
  resize?: boolean;
  reason?: string;
}

// A resize that does not fit in place names the target it chose (reserved at admission); a
// drain's migrations name none and choose it in their first step.
export interface MigrateRequest {
  instanceId: string;
  to: Shape;
  target?: Where;
  resize?: boolean;
  reason?: string;
}

type Ctx = StepContext<MigrateParams>;

// A drain's child queues behind whatever holds the instance; a resize refuses.
export function admitMigration(d: OperationDeps, req: MigrateRequest, a: AdmitContext): Admission<MigrateParams> {
  const subjects = [{ kind: 'instance' as const, name: req.instanceId }];
  const extra = { ...(req.resize ? { resize: true } : {}), ...(req.reason ? { reason: req.reason } : {}) };
  if (!req.target) return { params: { instanceId: req.instanceId, to: req.to, ...extra }, subjects, ifBusy: a.parentId ? 'wait' : 'refuse' };
  const i = mustInstance(d, req.instanceId);
  const member = memberMoveRefusal(i);
  if (member) throw failedPrecondition(`${i.name} is not moved to another node: ${member}`);
  const r = reserveAt(d.fleet, i, req.to, a.opId, req.target);
  const from: Shape = { cpuMillis: i.cpuMillis, memoryBytes: i.memoryBytes, diskBytes: i.diskBytes };
  return { params: { instanceId: i.id, reservationId: r.reservationId, from, to: req.to, source: r.source, target: r.target, ...extra }, subjects, ifBusy: a.parentId ? 'wait' : 'refuse' };
}

// Catch-up ends when the replica is this close; the cut-over then blocks writes for at most
// CUTOVER_DEADLINE_MS before it gives up and gives them back to the source.
export const MIGRATION = { lag: { maxSeconds: 1, maxTransactions: 50 }, catchUpDeadlineMs: 30 * 60_000, graceMs: 300, cutOverDeadlineMs: 5000 };

// Moves an instance to another node (and a new shape, for a resize that does not fit in place),
// keeping its id, name and credentials: reserve the target beside the source, copy, replicate,
// catch up, cut over (writes stopped and all applied on the target: the point of no return),
// promote the target, switch the record, retire the source. Until the cut-over has completed
// every failure undoes: the target goes, the source stays (writable). After it, the remaining
// steps roll forward, and one that keeps failing leaves the operation stuck for a retry.
export function migrateOperation(d: OperationDeps): OperationType<MigrateParams, MigrateRequest> {
  return {
    type: 'migrate',
    admit: (r, a) => admitMigration(d, r, a),
    failed: (ctx, f) => d.fleet.event('migrate.failed', ctx.params.instanceId, `migration of ${ctx.params.instanceId} failed, the source keeps serving${f.clean ? '' : ` (left: ${f.left.join(', ')})`}: ${f.error}`),
    steps: [
      { name: 'reserve-target', run: (ctx) => reserve(d, ctx), undo: async (ctx) => void release(d, ctx), independentUndo: true },
      { name: 'copy', retries: 1, backoffMs: 2000, timeoutMs: 6 * 3600_000, run: (ctx) => doCopy(d, ctx), undo: (ctx) => removeTarget(d, ctx) },
      { name: 'replicate', retries: 2, backoffMs: 1000, run: (ctx) => replicate(d, ctx), undo: (ctx) => unreplicate(d, ctx) },
      { name: 'catch-up', timeoutMs: MIGRATION.catchUpDeadlineMs + 60_000, run: (ctx) => doCatchUp(d, ctx) },
      { name: 'cut-over', pointOfNoReturn: true, timeoutMs: 120_000, run: (ctx) => doCutOver(d, ctx), undo: (ctx) => abandonCutOver(d, ctx) },
      // Past the point of no return: a failure is retried, then the operation is stuck (the
      // source stays read-only) until `berthctl operation retry` finishes it.
      { name: 'promote', retries: 3, backoffMs: 1000, timeoutMs: 60_000, run: (ctx) => doPromote(d, ctx) },
      { name: 'switch-record', run: (ctx) => switchRecord(d, ctx) },
      { name: 'retire-source', retries: 3, backoffMs: 2000, run: (ctx) => retireSource(d, ctx) },
    ],
  };
}

async function reserve(d: OperationDeps, ctx: Ctx): Promise<TargetReservation> {
  const done = ctx.output<TargetReservation>('reserve-target');
  if (done) return done;
  const p = ctx.params;
  if (p.reservationId && p.target) {
    const r = d.fleet.store.instances.get(p.reservationId);
    if (!r) throw new Error(`the target reservation ${p.reservationId} is gone`);
    return { reservationId: r.id, serverId: r.serverId, target: p.target, source: p.source! };
  }
  return reserveTarget(d.fleet, d.scheduler!, mustInstance(d, p.instanceId), p.to, ctx.opId);
}

const reservation = (ctx: Ctx) => {
  const r = ctx.output<TargetReservation>('reserve-target');
  if (!r) throw new Error('the target was not reserved');
  return r;
};

function release(d: OperationDeps, ctx: Ctx): void {
  const id = ctx.output<TargetReservation>('reserve-target')?.reservationId ?? ctx.params.reservationId;
  if (id) d.fleet.releaseInstance(id);
}

function endpoints(d: OperationDeps, ctx: Ctx): { src: Endpoint; tgt: TargetEndpoint; i: InstanceRow } {
  const i = mustInstance(d, ctx.params.instanceId);
  const r = reservation(ctx);
  const at = (node: string) => {
    const n = d.fleet.store.nodes.get(node);
    if (!n) throw new Error(`node ${node} is not registered`);
    return n;
  };
  const sn = at(r.source.node);
  const tn = at(r.target.node);
  const flavor = (i.flavor || 'mariadb') as Flavor;
  // streams: the pool's channel (mTLS) for the copy's progress stream.
  const streams = (node: string) => d.agents.raw?.(node);
  const src: Endpoint = { id: i.id, flavor, agent: d.agents.for(sn.name), streams: streams(sn.name), agentAddress: sn.agentAddress, host: sn.host, port: r.source.port };
  const tgt: TargetEndpoint = {
    id: i.id,
    flavor,
    agent: d.agents.for(tn.name),
    streams: streams(tn.name),
    agentAddress: tn.agentAddress,
    node: tn.name,
    host: tn.host,
    port: r.target.port,
    create: { ...agentCreateRequest(i, d.fleet.store.instanceTls.get(i.id).required), resources: ctx.params.to, port: r.target.port, diskPath: r.target.diskPath, serverId: r.serverId },
  };
  return { src, tgt, i };
}

const phaseOf = (p: MovementProgress) =>
  p.lagSeconds !== undefined || p.lagTransactions !== undefined ? `${p.phase} (lag ${p.lagSeconds ?? '?'} s, ${p.lagTransactions ?? '?'} transactions)` : p.phase;

const report = (ctx: Ctx) => (p: MovementProgress) => ctx.progress({ phase: phaseOf(p), ...(p.bytesTotal ? { bytesDone: p.bytesDone ?? 0, bytesTotal: p.bytesTotal } : {}) });

type CopyOut = Pick<CopyResult, 'method' | 'gtidPosition' | 'positionApplied' | 'bytes' | 'seconds' | 'bytesPerSecond'>;

async function doCopy(d: OperationDeps, ctx: Ctx): Promise<CopyOut> {
  const { src, tgt } = endpoints(d, ctx);
  const onDiscarded = discardRecorder(d, ctx, ctx.params.instanceId, reservation(ctx).target.node, 'a migration copy that failed');
  const r = await copy(src, tgt, { onProgress: report(ctx), signal: ctx.signal, createDeadlineMs: d.agentCreateDeadlineMs, onDiscarded });
  return { method: r.method, gtidPosition: r.gtidPosition, positionApplied: r.positionApplied, bytes: r.bytes, seconds: r.seconds, bytesPerSecond: r.bytesPerSecond };
}

// An undo that leaves a container behind holds its reservation: give an agent that is
// restarting a minute to come back before giving up. The files are deleted when the source has
// everything they hold (a retry needs the target disk's space again), else trashed and recorded.
async function removeTarget(d: OperationDeps, ctx: Ctx): Promise<void> {
  const r = ctx.output<TargetReservation>('reserve-target');
  if (!r) return;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const { src, tgt } = endpoints(d, ctx);
      await discard(d, ctx, { ...tgt, ...r.target }, src, 'an abandoned migration target');
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((res) => setTimeout(res, 1000));
    }
  }
}

async function replicate(d: OperationDeps, ctx: Ctx): Promise<ReplicaLink> {
  const { src, tgt } = endpoints(d, ctx);
  const c = ctx.output<CopyOut>('copy')!;
  return makeReplica(tgt, src, c, { onProgress: report(ctx), signal: ctx.signal });
}

async function unreplicate(d: OperationDeps, ctx: Ctx): Promise<void> {
  const { src, tgt } = endpoints(d, ctx);
  const link = ctx.output<ReplicaLink>('replicate');
  await tgt.agent.resetReplica({ id: tgt.id }).catch(() => undefined);
  if (link) await releaseReplica(src, link).catch(() => undefined);
}

async function doCatchUp(d: OperationDeps, ctx: Ctx): Promise<{ waitedMs: number; lagTransactions: number }> {
  const { src, tgt } = endpoints(d, ctx);
  const r = await catchUp(tgt, src, MIGRATION.lag, { deadlineMs: MIGRATION.catchUpDeadlineMs, onProgress: report(ctx), signal: ctx.signal });
  return { waitedMs: r.waitedMs, lagTransactions: r.lagTransactions };
}

// Writes stop on the source and the target applies the last of them. If that cannot be done
// before the deadline the source takes writes again and the step fails (rolled back: the target
// is removed). Its end is the point of no return: the source never takes writes again.
async function doCutOver(d: OperationDeps, ctx: Ctx): Promise<Omit<WritesStopped, 'ok'>> {
  const { src, tgt } = endpoints(d, ctx);
  const e = d.endpoints;
  // The instance's stable endpoint: closed once the source is read-only, back to it if abandoned.
  const routes = e && { sourceReadOnly: async () => void (await e.route(src.id, null)), beforeTargetWritable: async () => undefined, beforeSourceWritable: async () => void (await e.route(src.id, { host: src.host, port: src.port })) };
  const r = await stopWrites(src, tgt, { graceMs: MIGRATION.graceMs, deadlineMs: MIGRATION.cutOverDeadlineMs, onProgress: report(ctx), signal: ctx.signal, routes });
  if (!r.ok) throw new Error(`cut-over abandoned after ${r.blockedMs} ms, the source takes writes again: ${r.reason}`);
  return { startedAt: r.startedAt, finalGtid: r.finalGtid, killed: r.killed };
}

// The target takes writes. The blocked window ends here (a promotion that was stuck counts
// until the retry that finished it).
async function doPromote(d: OperationDeps, ctx: Ctx): Promise<{ blockedMs: number; finalGtid: string; killed: number }> {
  const { src, tgt } = endpoints(d, ctx);
  const cut = ctx.output<Omit<WritesStopped, 'ok'>>('cut-over')!;
  const e = d.endpoints;
  // To the target before it is writable; released once the record names the target.
  await promote(src, tgt, { onProgress: report(ctx), routes: e && { beforeTargetWritable: async () => void (await e.route(src.id, { host: tgt.host, port: tgt.port })) } });
  const blockedMs = Date.now() - cut.startedAt;
  // The replication account stays on the source: it goes with the source at retire-source.
  // Dropping it here would lift MySQL's super_read_only, and a privileged client still pointed
  // at the source could commit there after the final set (a lost acknowledged write).
  d.fleet.event('migrate.cut-over', ctx.params.instanceId, `writes moved to the target; blocked for ${blockedMs} ms`);
  return { blockedMs, finalGtid: cut.finalGtid, killed: cut.killed };
}

// Never two writable copies: the target goes first, then the source takes writes again.
async function abandonCutOver(d: OperationDeps, ctx: Ctx): Promise<void> {
  const { src } = endpoints(d, ctx);
  await removeTarget(d, ctx);
  await d.endpoints?.route(src.id, { host: src.host, port: src.port });
  await src.agent.setReadOnly({ id: src.id, readOnly: false }).catch((err: unknown) => {
    throw new Error(`the source could not be made writable again: ${errorMessage(err)}`);
  });
  d.endpoints?.release(src.id);
}

// One fleet change: the target reservation goes and the instance's record takes its place
// (node, disk, port, server id, new shape); id, name and credentials stay.
async function switchRecord(d: OperationDeps, ctx: Ctx): Promise<{ node: string; host: string; port: number }> {
  const r = reservation(ctx);
  const to = ctx.params.to;
  const moved = d.fleet.change(() => {
    const i = mustInstance(d, ctx.params.instanceId);
    if (i.node !== r.target.node) {
      d.fleet.releaseInstance(r.reservationId);
      d.fleet.moveInstance(i.id, { ...r.target, serverId: r.serverId });
      if (i.cpuMillis !== to.cpuMillis || i.memoryBytes !== to.memoryBytes || i.diskBytes !== to.diskBytes) d.fleet.resizeInstance(i.id, to);
      const host = d.fleet.store.nodes.get(r.target.node)?.host ?? '';
      d.fleet.event('instance.moved', i.id, `${i.name} moved from ${r.source.node} port ${r.source.port} to ${r.target.node} (${host}:${r.target.port})`);
    }
    return mustInstance(d, i.id);
  });
  // The record names the target: the stable endpoint follows the store from here.
  d.endpoints?.release(moved.id);
  return { node: moved.node, host: d.fleet.store.nodes.get(moved.node)?.host ?? '', port: moved.port };
}

// Deleted, not trashed, when the target has every transaction the source held (it does, unless
// a write reached the source after the final set): a trashed copy would keep the space the move
// was meant to free on the source disk for the whole retention (a disk under pressure would stay
// under it and have its next instance moved off too).
async function retireSource(d: OperationDeps, ctx: Ctx): Promise<{ removed: boolean; purged: boolean; trashPath: string; unseenGtids: string }> {
  const r = reservation(ctx);
  const { src, tgt } = endpoints(d, ctx);
  const g = await discard(d, ctx, { ...src, ...r.source }, tgt, 'the source of a finished migration');
  d.fleet.event('migrate.done', ctx.params.instanceId, `source on ${r.source.node} retired`);
  return { removed: g.existed, purged: g.purged, trashPath: g.trashPath, unseenGtids: g.unseenGtids };
}

// Removes one copy of the instance (discardCopy: deleted when the other holds all of it), and
// the space it freed counts for placements at once (a create right after this operation), not a
// heartbeat later.
async function discard(d: OperationDeps, ctx: Ctx, copy: Endpoint & { node: string; diskPath: string }, survivor: Endpoint, reason: string) {
  const g = await discardCopy(copy, survivor, d.agentRemoveDeadlineMs ?? 120_000);
  d.fleet.diskSpaceMeasured(copy.node, g.disks);
  discardRecorder(d, ctx, ctx.params.instanceId, copy.node, reason)(g);
  return g;
}
