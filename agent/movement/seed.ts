import { constants as fsConstants } from 'node:fs';
import net from 'node:net';
import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import path from 'node:path';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import * as grpc from '@grpc/grpc-js';
import { BerthError, failedPrecondition, invalidArgument, unavailable } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { BackupChunk__Output } from '../../src/gen/berth/v1/BackupChunk';
import type { SeedInstanceRequest__Output } from '../../src/gen/berth/v1/SeedInstanceRequest';
import type { SeedProgress } from '../../src/gen/berth/v1/SeedProgress';
import { agentProto } from '../../src/proto';
import { CHANNEL_OPTIONS } from '../../src/rpc';
import { channelCredentials, type TlsFiles } from '../../src/tls/credentials';
import { LABEL, type DockerEngine } from '../docker';
import { binds, DIRS, IN_CONTAINER, layoutFor, type Layout } from '../instance/layout';
import type { Instances } from '../instance/lifecycle';
import { tail } from './backup';
import { connectDirect, openFd } from './direct';
import { parseBinlogInfo, Progress } from './progress';
import { readRecord } from '../instance/record';
import { removeInstanceFiles } from '../instance/datadir';

export interface SeedContext {
  docker: DockerEngine;
  instances: Instances;
  node: string;
  disks: string[];
  log: Logger;
  // This node's certificate: the source agent serves StreamBackup only to fleet node certificates.
  tls?: TlsFiles;
}

export const PREPARE_TIMEOUT_MS = 30 * 60_000;
const execFileP = promisify(execFile);
// The receive window of the pull: with HTTP/2's default 64 KiB the source waits for a
// WINDOW_UPDATE every 64 KiB, i.e. for this process's event loop, busy writing to mbstream; the
// stream then ran at about 70 MB/s. 32 MiB keeps the source sending while we write.
export const COPY_CHANNEL_OPTIONS = { ...CHANNEL_OPTIONS, 'grpc-node.flow_control_window': 32 * 1024 * 1024 };
export const OWNED_DIRS = DIRS.filter((d) => d !== 'conf').map((d) => IN_CONTAINER[d]).join(' ');

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
  // Whatever an earlier attempt left is not trusted. Files mysqld ran on (a copy that booted
  // and was then given up without its container) may hold acknowledged writes: to the trash.
  if ((await readRecord(layout).catch(() => undefined))?.firstStartedAt) {
    const [to] = await removeInstanceFiles([req.diskPath], req.id);
    ctx.log.warn({ instance: req.id, trash: to }, 'a copy goes where mysqld had run: the old files are kept in the trash');
  }
  await fs.rm(layout.root, { recursive: true, force: true });
  try {
    for (const d of DIRS) await fs.mkdir(layout.dirs[d], { recursive: true, mode: 0o750 });
    const progress = new Progress();
    const transport = yield* pull(ctx, req, layout, progress, signal);
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
    const done: SeedProgress = { ...progress.report('done'), gtidPosition: parseBinlogInfo(info), positionApplied: false, method: 'mariabackup', transport };
    await fs.writeFile(marker, JSON.stringify(done));
    ctx.log.info({ instance: req.id, bytes: progress.done, seconds: progress.seconds(), gtid: done.gtidPosition, transport }, 'instance seeded from a hot copy');
    yield done;
  } catch (err) {
    await fs.rm(layout.root, { recursive: true, force: true });
    ctx.log.warn({ instance: req.id, err: { message: (err as Error).message } }, 'seed failed; partial copy removed');
    throw err;
  }
}

async function* pull(ctx: SeedContext, req: SeedInstanceRequest__Output, layout: Layout, progress: Progress, signal: AbortSignal): AsyncGenerator<SeedProgress, 'direct' | 'grpc'> {
  const unpack = await startUnpack(ctx, req, layout);
  const Agent = agentProto().berth.v1.Agent;
  // Any node certificate of the fleet CA: the manager named the source's address, not its node.
  const client = new Agent(req.sourceAgent, channelCredentials(ctx.tls, { kind: 'node' }), COPY_CHANNEL_OPTIONS) as AgentClient;
  let call = client.streamBackup({ id: req.sourceInstance, grant: req.backupGrant, direct: true });
  const onAbort = () => call.cancel();
  signal.addEventListener('abort', onAbort);
  try {
    let messages = (call as AsyncIterable<BackupChunk__Output>)[Symbol.asyncIterator]();
    let first = await messages.next();
    if (!first.done && first.value.directPort) {
      const host = req.sourceAgent.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      const socket = await connectDirect(host, first.value.directPort, first.value.directToken, ctx.tls).catch((err: Error) => {
        ctx.log.warn({ instance: req.id, source: req.sourceAgent, err: { message: err.message } }, 'no direct copy socket; relaying the copy over gRPC instead');
        return undefined;
      });
      if (socket) {
        progress.total = first.value.totalBytesEstimate;
        yield* receiveDirect(req, socket, messages, unpack, progress);
        return 'direct';
      }
      call.cancel();
      call = client.streamBackup({ id: req.sourceInstance, grant: req.backupGrant });
      messages = (call as AsyncIterable<BackupChunk__Output>)[Symbol.asyncIterator]();
      first = await messages.next();
    }
    yield* receiveGrpc(first, messages, unpack, progress);
    return 'grpc';
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

// The bytes relayed in the gRPC messages, written into mbstream's FIFO as they come.
async function* receiveGrpc(first: IteratorResult<BackupChunk__Output>, messages: AsyncIterator<BackupChunk__Output>, unpack: Unpack, progress: Progress): AsyncGenerator<SeedProgress> {
  for (let m = first; !m.done; m = await messages.next()) {
    const msg = m.value;
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
}

// The bytes over the direct socket, straight into mbstream's FIFO; the gRPC stream says how
// the source ended (an error status if mariabackup failed) and how many bytes it sent.
async function* receiveDirect(req: SeedInstanceRequest__Output, socket: Socket, messages: AsyncIterator<BackupChunk__Output>, unpack: Unpack, progress: Progress): AsyncGenerator<SeedProgress> {
  const received = () => unpack.stdin.bytesWritten;
  let sourceErr: unknown;
  const rest = (async () => {
    let last: BackupChunk__Output | undefined;
    for (let m = await messages.next(); !m.done; m = await messages.next()) last = m.value;
    return last;
  })();
  rest.catch((err: unknown) => ((sourceErr = err), socket.destroy()));
  let piped = false;
  const piping = pipeline(socket, unpack.stdin).finally(() => (piped = true));
  piping.catch(() => undefined);
  try {
    while (!piped) {
      await Promise.race([piping.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
      progress.done = received();
      if (progress.due()) yield progress.report('copy');
    }
    await piping;
  } catch (err) {
    throw sourceErr ?? unavailable(`the direct copy socket from ${req.sourceAgent} broke after ${received()} bytes: ${(err as Error).message}; the partial copy was removed, retry from the start`);
  } finally {
    socket.destroy();
  }
  const last = await rest;
  progress.done = received();
  if (!last || last.directBytes !== progress.done) throw unavailable(`the direct copy from ${req.sourceAgent} ended after ${progress.done} bytes, the source sent ${last?.directBytes ?? 'an unknown number of'}; the partial copy was removed, retry from the start`);
  const code = await unpack.exited;
  if (code !== 0) throw new Error(`mbstream -x failed (exit ${code}): ${tail(unpack.output())}`);
}

type Unpack = Awaited<ReturnType<typeof startUnpack>>;

// A throwaway container unpacking what is written into a FIFO in the instance's bind-mounted
// tmp dir. Not Docker's attach stdin: dockerd's copy sits in the data path then (as exec
// stdout did on the source side), an extra hop on a machine whose cores the copy needs.
// `command`: another unpacker (a restore's), given the FIFO's path in the container.
export async function startUnpack(ctx: SeedContext, req: { id: string; image: string }, layout: Layout, command?: (fifoInContainer: string) => string[]) {
  const fifoName = `berth-seed-${randomBytes(4).toString('hex')}.xbstream`;
  const fifo = path.join(layout.dirs.tmp, fifoName);
  await execFileP('mkfifo', ['-m', '0600', fifo]);
  const helper = await ctx.docker.startHelper({
    image: req.image,
    cmd: command ? command(`${IN_CONTAINER.tmp}/${fifoName}`) : ['sh', '-c', `exec mbstream -x -C ${IN_CONTAINER.data} < ${IN_CONTAINER.tmp}/${fifoName}`],
    binds: binds(layout),
    labels: labels(ctx, req.id),
    limits: 'none',
  });
  // An mbstream that dies before opening the FIFO would leave our open() waiting forever: open
  // it once for reading too, so the writer's open returns and its writes fail (EPIPE).
  const exited = helper.exited.then(async (code) => (await unblockReader(fifo), code));
  // A pipe stream, not a file write stream: written from the event loop (writev when the FIFO
  // is full), no thread-pool round trip per write.
  const stdin = new net.Socket({ fd: await openFd(fifo, fsConstants.O_WRONLY), readable: false, writable: true });
  stdin.on('error', () => undefined);
  return {
    stdin,
    exited,
    output: () => helper.output(),
    remove: async () => {
      stdin.destroy();
      await helper.remove();
      await fs.unlink(fifo).catch(() => undefined);
    },
  };
}

async function unblockReader(fifo: string): Promise<void> {
  const fh = await fs.open(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
  await fh?.close();
}

export function labels(ctx: SeedContext, id: string): Record<string, string> {
  // role=init: an agent restarted after dying mid-copy removes it with the other leftovers.
  return { [LABEL.managed]: 'true', [LABEL.node]: ctx.node, [LABEL.instance]: id, [LABEL.role]: 'init' };
}
