import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fsCb, { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { failedPrecondition, notFound } from '../../src/errors';
import type { BackupChunk } from '../../src/gen/berth/v1/BackupChunk';
import { LABEL, type DockerEngine, type RunningHelper } from '../docker';
import type { Instances } from '../instance/lifecycle';
import { binds, IN_CONTAINER, SOCKET, layoutFor } from '../instance/layout';
import { Socket } from 'node:net';
import { offerDirect, type DirectOffer, type DirectOptions } from './direct';
import { identify, openOwnFifo, type MadeFile } from '../../src/security/nofollow';
import { fillChunks } from './stream';

const MESSAGE_BYTES = 1024 * 1024;
const execFileP = promisify(execFile);

// mariabackup inside the running container, through the socket as root (unix_socket: no
// password), streaming xbstream to stdout. Binary logs are not part of a physical copy.
export const BACKUP_CMD = [
  'mariabackup',
  '--backup',
  '--stream=xbstream',
  '--user=root',
  `--socket=${SOCKET}`,
  `--target-dir=${IN_CONTAINER.tmp}`,
  '--parallel=2',
];

// Source side of a hot copy: the first message carries the size estimate, then the stream.
// With `direct` (the caller asked, and this agent knows its listen host) the first message
// offers a one-time socket instead, the bytes go there, and the last message counts them.
export async function* streamBackup(docker: DockerEngine, instances: Instances, node: string, id: string, signal: AbortSignal, direct?: DirectOptions): AsyncGenerator<BackupChunk> {
  const inst = await instances.get(id);
  if (!inst) throw notFound(`instance ${id} is not on this node`);
  if (inst.state !== 'running') throw failedPrecondition(`instance ${id} is ${inst.state}: a hot copy needs it running`);
  if (inst.flavor !== 'mariadb') throw failedPrecondition(`instance ${id} is ${inst.flavor}: copy it with CLONE, not mariabackup`);
  const totalBytesEstimate = await copyBytes(layoutFor(inst.diskPath, id).dirs.data);
  const offer = direct ? await offerDirect(direct) : undefined;
  try {
    yield { data: Buffer.alloc(0), totalBytesEstimate, directPort: offer?.port ?? 0, directToken: offer?.token ?? Buffer.alloc(0) };
    const sent = yield* runBackup(docker, inst, node, signal, offer);
    if (offer) yield { data: Buffer.alloc(0), directBytes: sent };
  } finally {
    offer?.close();
  }
}

// Runs mariabackup into a FIFO and passes what it writes on: onto the direct socket when there
// is one (returns the bytes sent), else as messages.
// `command` (a backup into the repository) replaces mariabackup alone: given the FIFO's path in
// the container, the container's command writing into it; `what` names it in errors.
export async function* runBackup(
  docker: DockerEngine,
  inst: { id: string; diskPath: string; image: string },
  node: string,
  signal: AbortSignal,
  offer?: DirectOffer,
  command?: (fifoInContainer: string) => string[],
  what = 'mariabackup --backup',
): AsyncGenerator<BackupChunk, number> {
  // The caller connects before mariabackup starts, so a caller that never comes costs nothing.
  const socket = offer ? await offer.accepted : undefined;
  const onAbortSocket = () => socket?.destroy();
  signal.addEventListener('abort', onAbortSocket);
  let sent = 0;
  const { fifo, inContainer, made } = await makeFifo(inst);
  const cmd = command ? command(inContainer) : ['sh', '-c', `exec ${BACKUP_CMD.join(' ')} > ${inContainer}`];
  let proc: RunningHelper | undefined;
  try {
    proc = await startBackupContainer(docker, inst, node, cmd);
    // Aborting (the target went away) ends the reading: the FIFO closes and mariabackup dies
    // on the broken pipe.
    const onAbort = () => {
      // A mariabackup still waiting to open the FIFO is let through, to fail on its first write.
      void openOwnFifo(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK, made).then((fd) => fsCb.close(fd, () => undefined), () => undefined);
    };
    signal.addEventListener('abort', onAbort);
    // A mariabackup that fails before opening the FIFO would leave our open() waiting forever.
    const code = proc.exited.then(async (c) => (await unblock(fifo, made), c));
    let read = false;
    try {
      sent = socket ? await fifoToSocket(fifo, made, socket, signal) : yield* fifoToMessages(fifo, made, signal);
      read = !signal.aborted;
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!read) await proc.remove();
    }
    const exit = await code;
    if (exit !== 0) throw new Error(`${what} failed (exit ${exit}): ${tail(proc.stderr())}`);
    return sent;
  } finally {
    await proc?.remove();
    signal.removeEventListener('abort', onAbortSocket);
    socket?.destroy();
    await fs.unlink(fifo).catch(() => undefined);
  }
}

// The stream leaves the container through a FIFO in the instance's bind-mounted tmp dir, not
// through Docker's exec stdout: dockerd's copy capped the stream at about 150 MB/s here. tmp/ is
// the tenant's (mysqld's uid writes there): every open of it refuses anything but this very FIFO
// (`made`), a symlink to a host file above all.
async function makeFifo(inst: { id: string; diskPath: string }): Promise<{ fifo: string; inContainer: string; made: MadeFile }> {
  const fifoName = `berth-backup-${randomBytes(4).toString('hex')}.xbstream`;
  const fifo = path.join(layoutFor(inst.diskPath, inst.id).dirs.tmp, fifoName);
  await execFileP('mkfifo', ['-m', '0600', fifo]);
  return { fifo, inContainer: `${IN_CONTAINER.tmp}/${fifoName}`, made: await identify(fifo) };
}

// The FIFO read into messages of MESSAGE_BYTES; returns the bytes passed on.
async function* fifoToMessages(fifo: string, made: MadeFile, signal: AbortSignal): AsyncGenerator<BackupChunk, number> {
  let sent = 0;
  const input = fdReader(await openOwnFifo(fifo, fsConstants.O_RDONLY, made));
  try {
    for await (const data of fillChunks(input, MESSAGE_BYTES)) {
      if (signal.aborted) break;
      yield { data };
      sent += data.length;
    }
  } finally {
    await input.close();
  }
  return sent;
}

// The FIFO read as a pipe stream (from the event loop, no thread-pool round trip or promise per
// 64 KiB read) straight onto the socket; resolves with the bytes sent once the receiver has
// them all and closed its side.
async function fifoToSocket(fifo: string, made: MadeFile, socket: Socket, signal: AbortSignal): Promise<number> {
  const input = new Socket({ fd: await openOwnFifo(fifo, fsConstants.O_RDONLY, made), readable: true, writable: false });
  const closed = new Promise<void>((resolve, reject) => socket.once('close', (hadError) => (hadError ? reject(new Error('the direct copy socket broke at its end')) : resolve())));
  closed.catch(() => undefined);
  try {
    await pipeline(input, socket, { signal });
    await closed;
    return input.bytesRead;
  } finally {
    input.destroy();
  }
}

// mariabackup in a throwaway container of the instance's image with the instance's mounts (it
// reads the data files and reaches mysqld through the socket in run/, as root, no password),
// not `docker exec` in the instance's own container: there it shared the instance's CPU limit
// with mysqld, and a 1-CPU instance's copy ran at about 110 MB/s. It gets what an init
// container gets (2 CPUs, 1 GiB, no network); role=init, so an agent restarted mid-copy
// removes it with the other leftovers.
function startBackupContainer(docker: DockerEngine, inst: { id: string; diskPath: string; image: string }, node: string, cmd: string[]): Promise<RunningHelper> {
  return docker.startHelper({
    image: inst.image,
    cmd,
    binds: binds(layoutFor(inst.diskPath, inst.id)),
    labels: { [LABEL.managed]: 'true', [LABEL.node]: node, [LABEL.instance]: inst.id, [LABEL.role]: 'init' },
    limits: 'init',
  });
}

// A raw descriptor read the way fillChunks reads a FileHandle (openOwnFifo gives descriptors).
function fdReader(fd: number) {
  return {
    read: (buf: Buffer, offset: number, length: number, position: null) =>
      new Promise<{ bytesRead: number }>((resolve, reject) => fsCb.read(fd, buf, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve({ bytesRead })))),
    close: () => new Promise<void>((resolve) => fsCb.close(fd, () => resolve())),
  };
}

async function unblock(fifo: string, made: MadeFile): Promise<void> {
  const fd = await openOwnFifo(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK, made).catch(() => undefined);
  if (fd !== undefined) await new Promise((resolve) => fsCb.close(fd, resolve));
}

// What a physical copy carries: the data directory without binary and relay logs.
export async function copyBytes(dir: string): Promise<number> {
  let total = 0;
  const entries = await fs.readdir(dir, { withFileTypes: true, recursive: true });
  for (const e of entries) {
    // Redo and temporary tablespace are not copied as files (the redo log is streamed from
    // the backup's start, usually a small part of it).
    if (!e.isFile() || /^(binlog|.*-relay-bin)\.|\.(index|pid|sock)$|^(ibtmp1|ib_logfile\d+|aria_log\.\d+)$/.test(e.name)) continue;
    const st = await fs.stat(path.join(e.parentPath, e.name)).catch(() => undefined);
    total += st?.size ?? 0;
  }
  return total;
}

export function tail(text: string, lines = 6): string {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 1200);
}
