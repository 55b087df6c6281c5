import fs from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { BerthError, failedPrecondition, invalidArgument, unavailable } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { BackupChunk__Output } from '../../src/gen/berth/v1/BackupChunk';
import type { SeedInstanceRequest__Output } from '../../src/gen/berth/v1/SeedInstanceRequest';
import type { SeedProgress } from '../../src/gen/berth/v1/SeedProgress';
import { agentProto } from '../../src/proto';
import { channelCredentials, type TlsFiles } from '../../src/tls/credentials';
import { LABEL, type DockerEngine } from '../docker';
import { binds, DIRS, IN_CONTAINER, layoutFor, type Layout } from '../instance/layout';
import type { Instances } from '../instance/lifecycle';
import { tail } from './backup';
import { parseBinlogInfo, Progress } from './progress';

export interface SeedContext {
  docker: DockerEngine;
  instances: Instances;
  node: string;
  disks: string[];
  log: Logger;
  // This node's certificate: the source agent serves StreamBackup only to fleet node certificates.
  tls?: TlsFiles;
}

const PREPARE_TIMEOUT_MS = 30 * 60_000;
const OWNED_DIRS = DIRS.filter((d) => d !== 'conf').map((d) => IN_CONTAINER[d]).join(' ');

// Target side of a mariabackup copy: pull the source agent's stream straight into `mbstream -x`
// in a throwaway container (no network) on the new instance's data directory, then prepare it.
// The data directory then holds `mysql/`, so CreateInstance starts it instead of initializing.
export async function* seedFromBackup(ctx: SeedContext, req: SeedInstanceRequest__Output, signal: AbortSignal): AsyncGenerator<SeedProgress> {
  if (!req.sourceAgent || !req.sourceInstance) throw invalidArgument('source_agent and source_instance are required for a mariabackup copy');
  if (!ctx.disks.includes(req.diskPath)) throw invalidArgument(`disk ${req.diskPath} is not one of node ${ctx.node}'s data disks`);
  if (await ctx.instances.get(req.id)) throw failedPrecondition(`instance ${req.id} already has a container on ${ctx.node}: a copy goes into a new instance`);
  const layout = layoutFor(req.diskPath, req.id);
  const marker = path.join(layout.root, 'seeded.json');
  const finished = await fs.readFile(marker, 'utf8').then(JSON.parse, () => undefined);
  if (finished) {
    yield finished as SeedProgress;
    return;
  }
  // Whatever an earlier attempt left is not trusted.
  await fs.rm(layout.root, { recursive: true, force: true });
  try {
    for (const d of DIRS) await fs.mkdir(layout.dirs[d], { recursive: true, mode: 0o750 });
    const progress = new Progress();
    yield* pull(ctx, req, layout, progress, signal);
    yield progress.report('prepare');
    const prep = await ctx.docker.runOnce({
      image: req.image,
      cmd: ['sh', '-c', `mariabackup --prepare --target-dir=${IN_CONTAINER.data} && chown -R mysql:mysql ${OWNED_DIRS}`],
      binds: binds(layout),
      labels: labels(ctx, req.id),
      timeoutMs: PREPARE_TIMEOUT_MS,
    });
    if (prep.exitCode !== 0) throw new Error(`mariabackup --prepare failed (exit ${prep.exitCode}): ${tail(prep.output)}`);
    const info = await fs.readFile(path.join(layout.dirs.data, 'xtrabackup_binlog_info'), 'utf8').catch(() => '');
    const done: SeedProgress = { ...progress.report('done'), gtidPosition: parseBinlogInfo(info), positionApplied: false, method: 'mariabackup' };
    await fs.writeFile(marker, JSON.stringify(done));
    ctx.log.info({ instance: req.id, bytes: progress.done, seconds: progress.seconds(), gtid: done.gtidPosition }, 'instance seeded from a hot copy');
    yield done;
  } catch (err) {
    await fs.rm(layout.root, { recursive: true, force: true });
    ctx.log.warn({ instance: req.id, err: { message: (err as Error).message } }, 'seed failed; partial copy removed');
    throw err;
  }
}

async function* pull(ctx: SeedContext, req: SeedInstanceRequest__Output, layout: Layout, progress: Progress, signal: AbortSignal): AsyncGenerator<SeedProgress> {
  const unpack = await startUnpack(ctx, req, layout);
  const Agent = agentProto().berth.v1.Agent;
  // Any node certificate of the fleet CA: the manager named the source's address, not its node.
  const client = new Agent(req.sourceAgent, channelCredentials(ctx.tls, { kind: 'node' })) as AgentClient;
  const call = client.streamBackup({ id: req.sourceInstance, grant: req.backupGrant });
  const onAbort = () => call.cancel();
  signal.addEventListener('abort', onAbort);
  try {
    for await (const msg of call as AsyncIterable<BackupChunk__Output>) {
      if (msg.totalBytesEstimate) progress.total = msg.totalBytesEstimate;
      if (msg.data.length > 0) {
        progress.done += msg.data.length;
        if (!unpack.stdin.write(msg.data)) await Promise.race([once(unpack.stdin, 'drain'), unpack.exited]);
      }
      if (progress.due()) yield progress.report('copy');
    }
    unpack.stdin.end();
    const code = await unpack.exited;
    if (code !== 0) throw new Error(`mbstream -x failed (exit ${code}): ${tail(unpack.output())}`);
  } catch (err) {
    if (err instanceof BerthError) throw err;
    const e = err as grpc.ServiceError;
    if (typeof e.code === 'number') {
      throw unavailable(`the copy stream from ${req.sourceAgent} broke after ${progress.done} bytes: ${e.details ?? e.message}; the partial copy was removed, retry from the start`);
    }
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    call.cancel();
    client.close();
    await unpack.remove();
  }
}

// A throwaway container reading the stream on stdin; Docker closes its stdin when we half-close.
async function startUnpack(ctx: SeedContext, req: SeedInstanceRequest__Output, layout: Layout) {
  const c = await ctx.docker.api.createContainer({
    Image: req.image,
    Cmd: ['mbstream', '-x', '-C', IN_CONTAINER.data],
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Labels: labels(ctx, req.id),
    HostConfig: { NetworkMode: 'none', Binds: binds(layout) },
  });
  const stdin = (await c.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
  let out = '';
  stdin.on('data', (b: Buffer) => (out = (out + b.toString('utf8').replace(/[^\x20-\x7e\n]/g, '')).slice(-4000)));
  stdin.on('error', () => undefined);
  await c.start();
  const exited = c.wait().then((r: { StatusCode: number }) => r.StatusCode);
  return {
    stdin,
    exited,
    output: () => out,
    remove: async () => {
      stdin.destroy();
      await c.remove({ force: true }).catch(() => undefined);
    },
  };
}

function labels(ctx: SeedContext, id: string): Record<string, string> {
  // role=init: an agent restarted after dying mid-copy removes it with the other leftovers.
  return { [LABEL.managed]: 'true', [LABEL.node]: ctx.node, [LABEL.instance]: id, [LABEL.role]: 'init' };
}
