import fs from 'node:fs';
import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { failedPrecondition } from '../src/errors';
import type { Logger } from '../src/log';
import { EPOCH_METADATA } from '../src/rpc';

export const EPOCH_KEY = EPOCH_METADATA;

export type EpochVerdict = { ok: true; raise: boolean } | { ok: false; why: string };

// Pure. A call from an older leader (a lower epoch) is refused: it was deposed, and whatever it
// asks for may undo what the new leader did. A call with no epoch (a manager from before
// leases) is taken only while no epoch was ever seen: once one was, it could be a deposed
// leader's, and the safe answer is no.
export function judgeEpoch(highest: number, got: number | undefined, method: string): EpochVerdict {
  if (got === undefined) {
    return highest === 0 ? { ok: true, raise: false } : { ok: false, why: `${method} refused: the call carries no leader epoch and this agent has seen epoch ${highest} (a manager without a lease may not act here)` };
  }
  if (got < highest) return { ok: false, why: `${method} refused: leader epoch ${got} is older than epoch ${highest} this agent has seen; the caller is no longer the leader` };
  return { ok: true, raise: got > highest };
}

export function epochOf(metadata: grpc.Metadata | undefined): number | undefined {
  const v = metadata?.get(EPOCH_KEY)[0];
  if (v === undefined) return undefined;
  const n = Number(String(v));
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

// The highest epoch seen, kept in a file beside the revocation list: an agent restarted does not
// forget it, or a deposed leader could act again after a restart.
export class EpochFence {
  highest = 0;

  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  static fileFor(disk: string): string {
    return path.join(disk, 'berth', '.leader-epoch');
  }

  load(): void {
    try {
      this.highest = Number(fs.readFileSync(this.file, 'utf8').trim()) || 0;
    } catch {
      this.highest = 0;
    }
    this.log.info({ epoch: this.highest }, 'highest leader epoch seen');
  }

  // Throws FAILED_PRECONDITION for a refused call; a higher epoch is on disk before the call runs.
  check(metadata: grpc.Metadata | undefined, method: string): void {
    const got = epochOf(metadata);
    const v = judgeEpoch(this.highest, got, method);
    if (!v.ok) {
      this.log.warn({ method, epoch: got, highest: this.highest }, 'agent call refused: stale leader epoch');
      throw failedPrecondition(v.why);
    }
    if (v.raise) this.raise(got!);
  }

  private raise(epoch: number): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${epoch}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    this.log.info({ from: this.highest, to: epoch }, 'new leader epoch');
    this.highest = epoch;
  }
}
