import { errorMessage } from '../../src/errors';
import { hasAll } from './decide';
import { sleep, type Endpoint, type MovementOptions } from './types';

export interface CutOverOptions extends MovementOptions {
  // How long sessions on the source may finish what they are doing once it is read-only,
  // before they are killed.
  graceMs: number;
  // From the moment writes stop: past this the cut-over is abandoned and the source is made
  // writable again.
  deadlineMs: number;
  // The target is a cluster member: see promote().
  bootReadOnly?: boolean;
  // Stable endpoints (manager/endpoints): told when the source has turned read-only (close its
  // route, shut the proxy's sessions to it), before the target is made writable (route to it),
  // and before an abandoned cut-over makes the source writable again (route back to it).
  routes?: CutOverRoutes;
}

export interface CutOverRoutes {
  sourceReadOnly(): Promise<void>;
  beforeTargetWritable(): Promise<void>;
  beforeSourceWritable(): Promise<void>;
}

export type CutOverResult =
  | { ok: true; blockedMs: number; finalGtid: string; killed: number }
  | { ok: false; blockedMs: number; reason: string };

// Raised when a failure comes after the point of no return (the target may already take
// writes): the source stays read-only and someone must finish (roll forward), never undo.
export class CutOverIncomplete extends Error {
  readonly pastPointOfNoReturn = true;
  constructor(message: string) {
    super(message);
    this.name = 'CutOverIncomplete';
  }
}

// Writes stopped on the source and every one of them applied on the target (stopWrites).
export interface WritesStopped {
  ok: true;
  // Epoch ms at which the source turned read-only: the blocked window runs from here.
  startedAt: number;
  finalGtid: string;
  killed: number;
}

export type StopWritesResult = WritesStopped | { ok: false; blockedMs: number; reason: string };

// Moves writes from `source` to its replica `target`: stopWrites, then promote. The blocked
// window is from the source turning read-only to the target accepting writes (or the source
// again, on abort). Callers that record the point of no return between the two halves (an
// operation's steps) call them separately.
export async function cutOver(source: Endpoint, target: Endpoint, opts: CutOverOptions): Promise<CutOverResult> {
  const s = await stopWrites(source, target, opts);
  if (!s.ok) return s;
  await promote(source, target, opts);
  return { ok: true, blockedMs: Date.now() - s.startedAt, finalGtid: s.finalGtid, killed: s.killed };
}

// The half before the point of no return: source read-only, remaining client sessions killed
// after a grace, wait until the target executed the source's final GTID set. Any failure or the
// deadline makes the source writable again ({ ok: false }); the caller then removes the target.
// On { ok: true } the source must never take writes again.
export async function stopWrites(source: Endpoint, target: Endpoint, opts: CutOverOptions): Promise<StopWritesResult> {
  const t0 = Date.now();
  const deadline = t0 + opts.deadlineMs;
  try {
    opts.onProgress?.({ phase: 'cut-over: source read-only' });
    await source.agent.setReadOnly({ id: source.id, readOnly: true });
    await opts.routes?.sourceReadOnly();
    if (opts.graceMs > 0) await sleep(Math.min(opts.graceMs, Math.max(0, deadline - Date.now())), opts.signal);
    const k = await source.agent.killClientConnections({ id: source.id }, Math.max(1000, deadline - Date.now()));
    opts.onProgress?.({ phase: 'cut-over: target applying the last transactions' });
    const left = deadline - Date.now();
    if (left <= 0 || opts.signal?.aborted) throw new Error(opts.signal?.aborted ? 'cancelled' : 'deadline passed before the target could catch up');
    const w = await target.agent.waitForGtid({ id: target.id, gtidSet: k.executedGtids, timeoutMs: left }, left + 10_000);
    if (!w.reached || !hasAll(target.flavor, w.executedGtids, k.executedGtids)) {
      throw new Error(`the target did not execute the source's final GTID set ${k.executedGtids} within the deadline (it has ${w.executedGtids})`);
    }
    return { ok: true, startedAt: t0, finalGtid: k.executedGtids, killed: k.killed };
  } catch (err) {
    await opts.routes?.beforeSourceWritable();
    await source.agent.setReadOnly({ id: source.id, readOnly: false });
    return { ok: false, blockedMs: Date.now() - t0, reason: errorMessage(err) };
  }
}

// The half after the point of no return: stop and forget replication on the target and make it
// writable (also after a restart). Idempotent, so it can be retried until it works; a failure
// is CutOverIncomplete (roll forward, never undo: the source stays read-only).
// `bootReadOnly`: the target is a cluster member, which boots read-only whatever its role (its
// my.cnf keeps the replica lines; the manager opens the primary); a standalone target drops them.
export async function promote(source: Pick<Endpoint, 'id'>, target: Endpoint, opts: Pick<CutOverOptions, 'onProgress' | 'bootReadOnly'> & { routes?: Pick<CutOverRoutes, 'beforeTargetWritable'> }): Promise<void> {
  try {
    opts.onProgress?.({ phase: 'cut-over: target writable' });
    await opts.routes?.beforeTargetWritable();
    await target.agent.resetReplica({ id: target.id });
    await target.agent.setReadOnly({ id: target.id, readOnly: false, persist: !opts.bootReadOnly });
  } catch (err) {
    throw new CutOverIncomplete(`cut-over of ${source.id} to ${target.id} stopped after the source turned read-only for good: ${errorMessage(err)}`);
  }
}
