import type * as grpc from '@grpc/grpc-js';
import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import type { Event } from '../../src/gen/berth/v1/Event';
import type { Operation } from '../../src/gen/berth/v1/Operation';
import { invalidArgument, notFound, resourceExhausted } from '../../src/errors';
import type { Logger } from '../../src/log';
import { serverStream } from '../../src/rpc-stream';
import type { OperationRow } from '../store/operations';
import type { Store } from '../store/index';
import type { FleetState } from '../state/fleet';
import { callerOf } from './requests';
import { toOperation } from './convert';

// What a watch needs: the operations as the engine drives them (its copy is ahead of the store
// while a step runs), the store for the rest, and the state owner's events as a wake-up.
export interface WatchDeps {
  store: Store;
  fleet: FleetState;
  operation: (id: string) => OperationRow | undefined;
  log: Logger;
}

export const MAX_WATCHES_PER_CALLER = 8;
// How often a watch looks again without being woken: progress (bytes of a copy) changes without
// an event; events added outside the state owner have none either.
const POLL_MS = 250;
const EVENT_BATCH = 500;
const ENDED = new Set(['succeeded', 'failed', 'stuck']);

// WatchOperations and WatchEvents: server streams that look again when an event is announced or
// a poll interval passes, send only what changed, and hold at most MAX_WATCHES_PER_CALLER per
// caller (a portal that leaks streams is refused, not the manager exhausted). A slow reader is
// waited for (backpressure), so a watch never buffers more than one message.
export function watchHandlers(d: WatchDeps): Pick<PortalHandlers, 'WatchOperations' | 'WatchEvents'> {
  const w = new Watches(d);
  return {
    WatchOperations: w.held('WatchOperations', (req, signal) => w.operations(checkWatch({ id: req.id, subject: req.subject, kind: '' }), signal)),
    WatchEvents: w.held('WatchEvents', (req, signal) => w.events({ afterId: Number(req.afterId), ...checkWatch({ id: '', kind: req.kind, subject: req.subject }) }, signal)),
  };
}

class Watches {
  // Watches open per caller, and the watches waiting for the next look.
  private readonly open = new Map<string, number>();
  private readonly wake = new Set<() => void>();

  constructor(private readonly d: WatchDeps) {
    d.fleet.onEvent(() => {
      for (const w of this.wake) w();
    });
  }

  held<Req, Res>(name: string, fn: (req: Req, signal: AbortSignal) => AsyncGenerator<Res>): grpc.handleServerStreamingCall<Req, Res> {
    return serverStream<Req, Res>(this.d.log, name, (req, signal, call) => this.limited(callerOf(call), () => fn(req, signal)));
  }

  async *operations(req: { id: string; subject: string }, signal: AbortSignal): AsyncGenerator<Operation> {
    if (req.id && !this.d.operation(req.id)) throw notFound(`no operation ${req.id}`);
    const sent = new Map<string, string>();
    const since = new Date().toISOString();
    while (!signal.aborted) {
      for (const op of this.watched(req, since)) {
        const msg = toOperation(op);
        const seen = JSON.stringify(msg);
        if (sent.get(op.id) === seen) continue;
        sent.set(op.id, seen);
        yield msg;
        // The state sent, not the row's now: the engine changes its row in place meanwhile.
        if (req.id && ENDED.has(msg.state ?? '')) return;
      }
      await this.pause(signal);
    }
  }

  async *events(req: { afterId: number; kind: string; subject: string }, signal: AbortSignal): AsyncGenerator<Event> {
    let cursor = req.afterId > 0 ? req.afterId : this.d.store.events.lastId();
    while (!signal.aborted) {
      const rows = this.d.store.events.after(cursor, { kind: req.kind, subject: req.subject }, EVENT_BATCH);
      for (const e of rows) {
        cursor = e.id;
        yield e;
      }
      if (rows.length < EVENT_BATCH) await this.pause(signal);
    }
  }

  private async *limited<Res>(who: string, fn: () => AsyncGenerator<Res>): AsyncGenerator<Res> {
    const n = this.open.get(who) ?? 0;
    if (n >= MAX_WATCHES_PER_CALLER) throw resourceExhausted(`${who || 'this caller'} already has ${n} watches open (at most ${MAX_WATCHES_PER_CALLER}): cancel one first`);
    this.open.set(who, n + 1);
    try {
      yield* fn();
    } finally {
      const left = (this.open.get(who) ?? 1) - 1;
      if (left > 0) this.open.set(who, left);
      else this.open.delete(who);
    }
  }

  // One operation; or every one still going, and those that ended since the watch began.
  private watched(req: { id: string; subject: string }, since: string): OperationRow[] {
    if (req.id) return [this.d.operation(req.id)!].filter(Boolean);
    const ops = this.d.store.operations;
    const ids = new Set([...ops.active().map((o) => o.id), ...ops.endedSince(since).map((o) => o.id)]);
    return [...ids].map((id) => this.d.operation(id)).filter((o): o is OperationRow => !!o && (!req.subject || o.subjects.some((s) => s.name === req.subject)));
  }

  // Resolves after POLL_MS, at the next event, or when the caller goes away.
  private pause(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake.delete(done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, POLL_MS);
      this.wake.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

// Refused at the edge with INVALID_ARGUMENT: what no operation id, subject or event kind looks like.
export function checkWatch<T extends { id: string; subject: string; kind: string }>(req: T): T {
  if (req.id && !/^op-[0-9a-f]{6,32}$/.test(req.id)) throw invalidArgument(`"${req.id.slice(0, 40)}" is not an operation id (op-…)`);
  if (req.subject.length > 200 || /[\u0000-\u001f]/.test(req.subject)) throw invalidArgument('subject: at most 200 printable characters');
  if (req.kind && !/^[a-z0-9._-]{1,100}$/.test(req.kind)) throw invalidArgument(`kind "${req.kind.slice(0, 40)}": lowercase letters, digits, '.', '_' and '-', at most 100`);
  return req;
}
