import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { unavailable } from '../../src/errors';
import type { SchedulerConfig, NodeSnapshot } from '../scheduler/types';
import { fit, MAX_FIT, MAX_FIT_WORK, type FitResult, type FitShape } from './fit';

export interface FitJob {
  nodes: NodeSnapshot[];
  shapes: FitShape[];
  now: number;
  config: SchedulerConfig;
}

// One request's whole answer: the work budget (placements x nodes) is shared by all its shapes,
// so twenty shapes cost what one does.
export function fitAll(job: FitJob): FitResult[] {
  const each = Math.max(1, Math.floor(MAX_FIT_WORK / Math.max(1, job.shapes.length)));
  return job.shapes.map((s) => fit(job.nodes, s, { now: job.now, config: job.config }, MAX_FIT, each));
}

// Runs fits on a worker thread, one at a time, so a large fleet's /v1/capacity/fit never holds
// the event loop that answers heartbeats and the portal. The snapshot is copied to the worker
// (structured clone: Sets and Maps included). Without the compiled worker (unit tests on the
// TypeScript sources) it computes in place.
//
// Bounded: at most `maxQueued` requests wait behind the one running (more are refused at once,
// UNAVAILABLE, which the admin server answers 503), and a waiter holds only the function that
// makes its job: the copy of the fleet is made when its turn comes, so a burst of requests
// never holds a burst of fleet copies.
export const DEFAULT_FIT_QUEUE = 4;

export class FitPool {
  private worker?: Worker;
  private queue: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  private readonly file: string;

  constructor(
    private readonly maxQueued = DEFAULT_FIT_QUEUE,
    file = path.join(__dirname, 'fit-worker.js'),
  ) {
    this.file = file;
  }

  // Requests queued or running now.
  get pending(): number {
    return this.waiting;
  }

  run(makeJob: () => FitJob): Promise<FitResult[]> {
    if (this.waiting > this.maxQueued) return Promise.reject(unavailable(`${this.waiting} capacity fits are already queued; try again shortly`));
    this.waiting++;
    const inPlace = !fs.existsSync(this.file);
    const next = this.queue.then(() => (inPlace ? fitAll(makeJob()) : this.once(makeJob()))).finally(() => this.waiting--);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private once(job: FitJob): Promise<FitResult[]> {
    const w = (this.worker ??= this.spawn());
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        w.off('message', onMessage);
        w.off('error', onError);
        fn();
      };
      const onMessage = (m: { results?: FitResult[]; error?: string }) => done(() => (m.results ? resolve(m.results) : reject(new Error(m.error))));
      const onError = (err: Error) => {
        this.worker = undefined;
        done(() => reject(err));
      };
      w.on('message', onMessage);
      w.on('error', onError);
      w.postMessage(job);
    });
  }

  private spawn(): Worker {
    const w = new Worker(this.file);
    w.unref();
    return w;
  }

  close(): void {
    void this.worker?.terminate();
    this.worker = undefined;
  }
}
