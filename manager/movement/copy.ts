import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { SeedInstanceRequest } from '../../src/gen/berth/v1/SeedInstanceRequest';
import type { SeedProgress__Output } from '../../src/gen/berth/v1/SeedProgress';
import { agentProto } from '../../src/proto';
import { backupGrant } from '../../src/tls/grant';
import { discardCopy, type OnDiscarded } from './discard';
import { throwIfAborted, type Endpoint, type MovementOptions, type TargetEndpoint } from './types';

export interface CopyResult {
  method: 'mariabackup' | 'clone';
  // The copy's GTID position (MariaDB) or executed set (MySQL).
  gtidPosition: string;
  // The target server knows the position already (CLONE); otherwise makeReplica sets it.
  positionApplied: boolean;
  bytes: number;
  seconds: number;
  bytesPerSecond: number;
}

export interface CopyOptions extends MovementOptions {
  // How long the target agent may take to start mysqld on the copy.
  createDeadlineMs?: number;
  // The whole copy (stream and prepare, or CLONE).
  copyDeadlineMs?: number;
  // A failed target mysqld had run on went to the trash instead (discard.ts): record where.
  onDiscarded?: OnDiscarded;
}

// Makes `target` a new instance holding a hot physical copy of `source`, started as a replica
// (read-only, replication not started). MariaDB: the target agent pulls mariabackup's stream
// from the source agent, then starts mysqld on it; MySQL: the target starts empty, then CLONEs.
// On failure the target is removed, so a retry starts from nothing: deleted when it never ran
// or holds nothing the source lacks, else kept in the trash (opts.onDiscarded).
export async function copy(source: Endpoint, target: TargetEndpoint, opts: CopyOptions = {}): Promise<CopyResult> {
  if (source.flavor !== target.flavor) throw new Error(`cannot copy ${source.flavor} instance ${source.id} into a ${target.flavor} instance`);
  const t0 = Date.now();
  try {
    const done = source.flavor === 'mariadb' ? await copyByBackup(source, target, opts) : await copyByClone(source, target, opts);
    // my.cnf starts it read-only; on MySQL this adds super_read_only.
    await target.agent.setReadOnly({ id: target.id, readOnly: true });
    const seconds = (Date.now() - t0) / 1000;
    return {
      method: done.method === 'clone' ? 'clone' : 'mariabackup',
      gtidPosition: done.gtidPosition,
      positionApplied: done.positionApplied,
      bytes: done.bytesDone,
      seconds,
      bytesPerSecond: seconds > 0 ? Math.round(done.bytesDone / seconds) : 0,
    };
  } catch (err) {
    // Deleted when the source has all of it (a retry needs the disk space again).
    const gone = await discardCopy({ ...target, diskPath: target.create.diskPath ?? '' }, source).catch(() => undefined);
    if (gone && !gone.purged) opts.onDiscarded?.(gone);
    throw err;
  }
}

async function copyByBackup(source: Endpoint, target: TargetEndpoint, opts: CopyOptions): Promise<SeedProgress__Output> {
  const done = await seed(target, { id: target.id, image: target.create.image, diskPath: target.create.diskPath, method: 'mariabackup', sourceAgent: source.agentAddress, sourceInstance: source.id, backupGrant: backupGrant(source.id, target) }, opts);
  throwIfAborted(opts.signal);
  opts.onProgress?.({ phase: 'start', bytesDone: done.bytesDone, bytesTotal: done.bytesTotal });
  await target.agent.createInstance({ ...target.create, replica: true }, opts.createDeadlineMs ?? 600_000);
  return done;
}

async function copyByClone(source: Endpoint, target: TargetEndpoint, opts: CopyOptions): Promise<SeedProgress__Output> {
  opts.onProgress?.({ phase: 'create' });
  await target.agent.createInstance({ ...target.create, replica: true }, opts.createDeadlineMs ?? 600_000);
  throwIfAborted(opts.signal);
  opts.onProgress?.({ phase: 'clone' });
  const donor = { user: `berth_clone_${target.id.slice(2, 12)}`, password: randomBytes(18).toString('base64url') };
  await source.agent.createReplicationUser({ id: source.id, user: donor.user, password: donor.password, cloneDonor: true });
  try {
    const done = await seed(target, { id: target.id, image: target.create.image, diskPath: target.create.diskPath, method: 'clone', donor: { host: source.host, port: source.port, ...donor } }, opts);
    // The clone copied the donor account along with everything else.
    await target.agent.dropReplicationUser({ id: target.id, user: donor.user });
    return done;
  } finally {
    await source.agent.dropReplicationUser({ id: source.id, user: donor.user }).catch(() => undefined);
  }
}

// SeedInstance is a server stream: progress messages, the last one "done".
function seed(target: Endpoint, req: SeedInstanceRequest, opts: CopyOptions): Promise<SeedProgress__Output> {
  const Agent = agentProto().berth.v1.Agent;
  // The pool's channel is shared and stays open; a client made here is this call's to close.
  const own = !target.streams;
  const client = target.streams ?? (new Agent(target.agentAddress, grpc.credentials.createInsecure()) as AgentClient);
  const deadline = Date.now() + (opts.copyDeadlineMs ?? 6 * 3600_000);
  return new Promise<SeedProgress__Output>((resolve, reject) => {
    const call = client.seedInstance(req, { deadline });
    let last: SeedProgress__Output | undefined;
    const onAbort = () => call.cancel();
    opts.signal?.addEventListener('abort', onAbort);
    call.on('data', (p: SeedProgress__Output) => {
      last = p;
      opts.onProgress?.({ phase: p.phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, bytesPerSecond: p.bytesPerSecond, ...(p.transport ? { transport: p.transport } : {}) });
    });
    call.on('error', (err) => finish(() => reject(err)));
    call.on('end', () => finish(() => (last?.phase === 'done' ? resolve(last) : reject(new Error('the copy stream ended before the copy was done')))));
    function finish(fn: () => void) {
      opts.signal?.removeEventListener('abort', onAbort);
      if (own) client.close();
      fn();
    }
  });
}
