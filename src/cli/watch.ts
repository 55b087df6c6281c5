import * as grpc from '@grpc/grpc-js';
import type { Event__Output } from '../gen/berth/v1/Event';
import type { Operation__Output } from '../gen/berth/v1/Operation';
import type { PortalClient } from '../gen/berth/v1/Portal';
import { formatSize } from '../units';

// One line saying where an operation stands: its step (n of m), the phase and bytes it reports,
// and for a copy the rate and time left, from the bytes seen between two updates.
export class ProgressLine {
  private last?: { atMs: number; bytes: number };
  private rate = 0;

  text(op: Operation__Output, nowMs = Date.now()): string {
    const steps = op.steps.length;
    const cur = op.steps.findIndex((s) => s.state === 'running' || s.state === 'undoing');
    const step = cur >= 0 ? `step ${cur + 1}/${steps} ${op.steps[cur]!.name}` : '';
    const p = op.progress;
    const parts = [`${op.id} ${op.type}: ${op.state}`, step, p?.phase ?? ''];
    if (p?.bytesTotal) {
      this.measure(Number(p.bytesDone), nowMs);
      const pct = Math.floor((100 * Number(p.bytesDone)) / Number(p.bytesTotal));
      parts.push(`${formatSize(Number(p.bytesDone))} of ${formatSize(Number(p.bytesTotal))} (${pct}%)`);
      if (this.rate > 0) {
        parts.push(`${formatSize(this.rate)}/s`);
        parts.push(`ETA ${Math.ceil((Number(p.bytesTotal) - Number(p.bytesDone)) / this.rate)} s`);
      }
    }
    return parts.filter(Boolean).join(', ');
  }

  // A moving average, so one slow second does not swing the time left.
  private measure(bytes: number, nowMs: number): void {
    if (this.last && nowMs > this.last.atMs && bytes >= this.last.bytes) {
      const r = ((bytes - this.last.bytes) * 1000) / (nowMs - this.last.atMs);
      this.rate = this.rate ? 0.7 * this.rate + 0.3 * r : r;
    }
    this.last = { atMs: nowMs, bytes };
  }
}

// Streams an operation's changes to `show` until it ends, the timeout passes or the stream
// breaks; answers the last state seen (undefined: none, e.g. a manager without WatchOperations).
export function watchOperation(raw: PortalClient, meta: grpc.Metadata, id: string, timeoutMs: number, show: (op: Operation__Output) => void): Promise<Operation__Output | undefined> {
  return new Promise((resolve) => {
    let last: Operation__Output | undefined;
    const call = raw.watchOperations({ id, subject: '' }, meta.clone(), { deadline: Date.now() + timeoutMs });
    call.on('data', (op: Operation__Output) => {
      last = op;
      show(op);
    });
    call.on('error', () => resolve(last));
    call.on('end', () => resolve(last));
  });
}

// Prints events as they come, resuming after a broken stream from the last id printed, so none
// is missed or printed twice (before the first one, a resumed watch starts from "now" again).
// Ends only when the caller interrupts it, or on a refusal.
export async function followEvents(raw: PortalClient, meta: grpc.Metadata, q: { afterId: number; kind: string; subject: string }, print: (e: Event__Output) => void): Promise<void> {
  let after = q.afterId;
  for (let backoff = 500; ; backoff = Math.min(backoff * 2, 10_000)) {
    const err = await new Promise<grpc.ServiceError | undefined>((resolve) => {
      const call = raw.watchEvents({ afterId: after, kind: q.kind, subject: q.subject }, meta.clone());
      call.on('data', (e: Event__Output) => {
        after = Number(e.id);
        backoff = 500;
        print(e);
      });
      call.on('error', (e: grpc.ServiceError) => resolve(e));
      call.on('end', () => resolve(undefined));
    });
    // Only a lost connection is worth another try; a refusal is the caller's to read.
    if (err && err.code !== grpc.status.UNAVAILABLE && err.code !== grpc.status.DEADLINE_EXCEEDED) throw err;
    await new Promise((r) => setTimeout(r, backoff));
  }
}
