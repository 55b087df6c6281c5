// In-place resize latency for bench:expansion: from the ResizeInstance call until the operation
// reports the limits and the buffer pool applied (the agent reads both back before answering),
// alternating between two memory sizes so every run really changes something.
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import type { AsyncClient } from '../src/rpc';

export interface ResizeLatency {
  runs: number;
  // Call to operation succeeded, as a client sees it.
  medianMs: number;
  maxMs: number;
  // The agent's part: docker update + SET GLOBAL + the resize finishing + my.cnf and record.
  agentMedianMs: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function resizeLatency(portal: AsyncClient<PortalClient>, instance: string, sizes: [number, number], runs = 5): Promise<ResizeLatency> {
  const total: number[] = [];
  const agent: number[] = [];
  for (let r = 0; r < runs; r++) {
    const memoryBytes = sizes[r % 2]!;
    const t0 = process.hrtime.bigint();
    const op = await portal.resizeInstance({ instance, resources: { memoryBytes }, mode: 'in-place' });
    const done = await portal.waitOperation({ id: op.id, timeoutMs: 60_000 }, 70_000);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (done.state !== 'succeeded') throw new Error(`resize ${op.id} ${done.state}: ${done.error}`);
    total.push(ms);
    agent.push((JSON.parse(done.outputs.apply ?? '{}') as { applyMs?: number }).applyMs ?? 0);
  }
  return { runs, medianMs: Math.round(median(total)), maxMs: Math.round(Math.max(...total)), agentMedianMs: Math.round(median(agent)) };
}
