import { tlsTowards } from './tls';
import { failedPrecondition, invalidArgument } from '../../src/errors';
import type { SeedInstanceRequest__Output } from '../../src/gen/berth/v1/SeedInstanceRequest';
import type { SeedProgress } from '../../src/gen/berth/v1/SeedProgress';
import { waitFor } from '../../src/wait';
import { layoutFor } from '../instance/layout';
import { Progress } from './progress';
import type { SeedContext } from './seed';
import { onSocket, redacted } from '../session';
import { executedGtid, withInstance } from './sql';

// ER_CLONE_RESTART... "Restart server failed (mysqld is not managed by supervisor process)":
// the clone finished and mysqld shut down to start on the new data; Docker's restart policy
// (or the start below) brings it back.
const RESTART_NOT_SUPERVISED = 3707;
const RESTART_TIMEOUT_MS = 300_000;

// MySQL: the target instance exists (created empty, as a replica) and runs; CLONE replaces its
// data with the donor's, including gtid_executed, so no position has to be set afterwards.
export async function* seedByClone(ctx: SeedContext, req: SeedInstanceRequest__Output, signal: AbortSignal): AsyncGenerator<SeedProgress> {
  const donor = req.donor;
  if (!donor?.host || !donor.port || !donor.user || !donor.password) throw invalidArgument('donor host, port, user and password are required for a CLONE');
  const inst = await ctx.instances.get(req.id);
  if (!inst) throw failedPrecondition(`instance ${req.id} must be created (empty, as a replica) before it is cloned into`);
  if (inst.flavor !== 'mysql') throw failedPrecondition(`instance ${req.id} is ${inst.flavor}: CLONE needs MySQL`);
  const socket = layoutFor(inst.diskPath, req.id).socket;
  const startedBefore = await ctx.docker.startedAt(inst.containerId);
  const src = { host: donor.host, port: donor.port, user: donor.user, password: donor.password };
  const cloning = withInstance(ctx.instances, req.id, async (s) => {
    const check = s.d.clonePluginCheck();
    if (check && (await s.rows(check)).length === 0) await s.run(s.d.installClonePlugin());
    await s.run(s.d.cloneFrom(src, await tlsTowards(s.inst, src.host, src.port)), [donor.password]);
  }).then(
    () => undefined,
    (err: { errno?: number; code?: string }) => (err.errno === RESTART_NOT_SUPERVISED || err.code === 'PROTOCOL_CONNECTION_LOST' ? undefined : Promise.reject(redacted(err, [donor.password]))),
  );
  let settled = false;
  void cloning.finally(() => (settled = true)).catch(() => undefined);
  const progress = new Progress();
  while (!settled) {
    if (signal.aborted) throw signal.reason;
    await Promise.race([cloning.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
    const p = await cloneProgress(socket);
    if (p) [progress.done, progress.total] = [p.done, p.total];
    if (!settled && progress.due()) yield progress.report('copy');
  }
  await cloning;
  yield progress.report('restart');
  await restarted(ctx, req.id, socket, startedBefore);
  // clone_progress outlives the restart: the final figures.
  const final = await cloneProgress(socket);
  if (final) [progress.done, progress.total] = [final.done, final.total];
  const gtid = await withInstance(ctx.instances, req.id, executedGtid);
  ctx.log.info({ instance: req.id, bytes: progress.done, seconds: progress.seconds() }, 'instance seeded by CLONE');
  yield { ...progress.report('done'), gtidPosition: gtid, positionApplied: true, method: 'clone' };
}

async function cloneProgress(socket: string): Promise<{ done: number; total: number } | undefined> {
  const read = onSocket(
    socket,
    'mysql',
    async (s) => {
      const [r] = await s.rows<{ done: number; total: number }>(s.d.cloneProgress()!);
      return r ? { done: Number(r.done), total: Number(r.total) } : undefined;
    },
    { timeoutMs: 1000, abrupt: true },
  );
  return read.catch(() => undefined);
}

// mysqld stops after the clone: Docker's unless-stopped policy restarts the container; start
// it ourselves if it stays down. Done when the container has started again since the clone
// began (the CLONE statement returns before the old mysqld has exited: answering then, it would
// go away a moment later) and the server reports the clone completed.
async function restarted(ctx: SeedContext, id: string, socket: string, startedBefore: string): Promise<void> {
  await waitFor(
    `instance ${id} did not come back after the CLONE`,
    async () => {
      const inst = await ctx.instances.get(id);
      if (inst?.state === 'stopped') await ctx.docker.start(inst.containerId);
      if (!inst || (await ctx.docker.startedAt(inst.containerId)) === startedBefore) throw new Error('mysqld has not restarted on the cloned data yet');
      await onSocket(
        socket,
        'mysql',
        async (s) => {
          const [st] = await s.rows<{ state: string; errno: number; msg: string }>(s.d.cloneStatus()!);
          if (st && st.state !== 'Completed') throw new Error(`clone ${st.state}: ${st.errno} ${st.msg}`);
        },
        { timeoutMs: 2000, abrupt: true },
      );
    },
    { timeoutMs: RESTART_TIMEOUT_MS, intervalMs: 250 },
  );
}
