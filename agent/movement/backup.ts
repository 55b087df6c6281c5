import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { failedPrecondition, notFound } from '../../src/errors';
import type { BackupChunk } from '../../src/gen/berth/v1/BackupChunk';
import type { DockerEngine } from '../docker';
import type { Instances } from '../instance/lifecycle';
import { IN_CONTAINER, SOCKET, layoutFor } from '../instance/layout';
import { endSocket, offerDirect, writeAll, type DirectOffer, type DirectOptions } from './direct';
import { Demux, fillChunks } from './stream';

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
export async function* streamBackup(docker: DockerEngine, instances: Instances, id: string, signal: AbortSignal, direct?: DirectOptions): AsyncGenerator<BackupChunk> {
  const inst = await instances.get(id);
  if (!inst) throw notFound(`instance ${id} is not on this node`);
  if (inst.state !== 'running') throw failedPrecondition(`instance ${id} is ${inst.state}: a hot copy needs it running`);
  if (inst.flavor !== 'mariadb') throw failedPrecondition(`instance ${id} is ${inst.flavor}: copy it with CLONE, not mariabackup`);
  const totalBytesEstimate = await copyBytes(layoutFor(inst.diskPath, id).dirs.data);
  const offer = direct ? await offerDirect(direct) : undefined;
  try {
    yield { data: Buffer.alloc(0), totalBytesEstimate, directPort: offer?.port ?? 0, directToken: offer?.token ?? Buffer.alloc(0) };
    const sent = yield* runBackup(docker, inst, signal, offer);
    if (offer) yield { data: Buffer.alloc(0), directBytes: sent };
  } finally {
    offer?.close();
  }
}

// Runs mariabackup into a FIFO and passes what it writes on: onto the direct socket when there
// is one (returns the bytes sent), else as messages.
async function* runBackup(docker: DockerEngine, inst: { id: string; diskPath: string; containerId: string }, signal: AbortSignal, offer?: DirectOffer): AsyncGenerator<BackupChunk, number> {
  // The caller connects before mariabackup starts, so a caller that never comes costs nothing.
  const socket = offer ? await offer.accepted : undefined;
  const onAbortSocket = () => socket?.destroy();
  signal.addEventListener('abort', onAbortSocket);
  const id = inst.id;
  let sent = 0;
  // The stream leaves the container through a FIFO in the instance's bind-mounted tmp dir, not
  // through Docker's exec stdout: dockerd's copy capped the stream at about 150 MB/s here.
  const fifoName = `berth-backup-${randomBytes(4).toString('hex')}.xbstream`;
  const fifo = path.join(layoutFor(inst.diskPath, id).dirs.tmp, fifoName);
  await execFileP('mkfifo', ['-m', '0600', fifo]);
  const cmd = `exec ${BACKUP_CMD.join(' ')} > ${IN_CONTAINER.tmp}/${fifoName}`;
  try {
    const exec = await docker.api.getContainer(inst.containerId).exec({ Cmd: ['sh', '-c', cmd], AttachStdout: true, AttachStderr: true });
    const raw = await exec.start({ hijack: true, stdin: false });
    const demux = new Demux();
    void pipeline(raw, demux).catch(() => undefined);
    demux.resume();
    // Aborting (the target went away) ends the reading: the FIFO closes and mariabackup dies
    // on the broken pipe.
    const onAbort = () => {
      // A mariabackup still waiting to open the FIFO is let through, to fail on its first write.
      void fs.open(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK).then((fh) => fh.close(), () => undefined);
    };
    signal.addEventListener('abort', onAbort);
    // A mariabackup that fails before opening the FIFO would leave our open() waiting forever.
    const code = exitCode(exec).then(async (c) => (await unblock(fifo), c));
    const input = await fs.open(fifo, fsConstants.O_RDONLY);
    let read = false;
    try {
      for await (const data of fillChunks(input, MESSAGE_BYTES)) {
        if (signal.aborted) break;
        if (socket) await writeAll(socket, data, signal);
        else yield { data };
        sent += data.length;
      }
      if (socket && !signal.aborted) await endSocket(socket);
      read = !signal.aborted;
    } finally {
      signal.removeEventListener('abort', onAbort);
      await input.close();
      if (!read) raw.destroy();
    }
    // mariabackup closes its stream before it logs "completed OK!" and exits. Closing the
    // exec's attach connection in that gap makes dockerd TERM it and record exit 126.
    const exit = await code;
    raw.destroy();
    if (exit !== 0) throw new Error(`mariabackup --backup failed (exit ${exit}): ${tail(demux.stderr)}`);
    return sent;
  } finally {
    signal.removeEventListener('abort', onAbortSocket);
    socket?.destroy();
    await fs.unlink(fifo).catch(() => undefined);
  }
}

async function unblock(fifo: string): Promise<void> {
  const fh = await fs.open(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK).catch(() => undefined);
  await fh?.close();
}

async function exitCode(exec: { inspect(): Promise<{ Running: boolean; ExitCode: number | null }> }): Promise<number> {
  for (;;) {
    const s = await exec.inspect().catch(() => ({ Running: false, ExitCode: -1 }));
    if (!s.Running) return s.ExitCode ?? -1;
    await new Promise((r) => setTimeout(r, 100));
  }
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
