import fs from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { failedPrecondition, notFound } from '../../src/errors';
import type { BackupChunk } from '../../src/gen/berth/v1/BackupChunk';
import type { DockerEngine } from '../docker';
import type { Instances } from '../instance/lifecycle';
import { IN_CONTAINER, SOCKET, layoutFor } from '../instance/layout';
import { batched, Demux } from './stream';

const MESSAGE_BYTES = 1024 * 1024;

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
export async function* streamBackup(docker: DockerEngine, instances: Instances, id: string, signal: AbortSignal): AsyncGenerator<BackupChunk> {
  const inst = await instances.get(id);
  if (!inst) throw notFound(`instance ${id} is not on this node`);
  if (inst.state !== 'running') throw failedPrecondition(`instance ${id} is ${inst.state}: a hot copy needs it running`);
  if (inst.flavor !== 'mariadb') throw failedPrecondition(`instance ${id} is ${inst.flavor}: copy it with CLONE, not mariabackup`);
  yield { data: Buffer.alloc(0), totalBytesEstimate: await copyBytes(layoutFor(inst.diskPath, id).dirs.data) };

  const exec = await docker.api.getContainer(inst.containerId).exec({ Cmd: BACKUP_CMD, AttachStdout: true, AttachStderr: true });
  const raw = await exec.start({ hijack: true, stdin: false });
  const demux = new Demux();
  // Aborting (the target went away) closes mariabackup's stdout: it dies on the broken pipe.
  const onAbort = () => raw.destroy();
  signal.addEventListener('abort', onAbort);
  const piping = pipeline(raw, demux).catch((err: Error) => demux.destroy(err));
  try {
    for await (const data of batched(demux, MESSAGE_BYTES)) yield { data };
    await piping;
  } finally {
    signal.removeEventListener('abort', onAbort);
    raw.destroy();
  }
  const code = await exitCode(exec);
  if (code !== 0) throw new Error(`mariabackup --backup failed (exit ${code}): ${tail(demux.stderr)}`);
}

async function exitCode(exec: { inspect(): Promise<{ Running: boolean; ExitCode: number | null }> }): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const s = await exec.inspect();
    if (!s.Running) return s.ExitCode ?? -1;
    await new Promise((r) => setTimeout(r, 50));
  }
  return -1;
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
