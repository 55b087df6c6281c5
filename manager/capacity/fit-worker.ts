import { parentPort } from 'node:worker_threads';
import { fitAll, type FitJob } from './fit-pool';

// The worker side of FitPool: one job in, its results (or its error) out.
parentPort?.on('message', (job: FitJob) => {
  try {
    parentPort!.postMessage({ results: fitAll(job) });
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message });
  }
});
