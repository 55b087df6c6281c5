import * as grpc from '@grpc/grpc-js';
import type { Operation__Output } from '../../src/gen/berth/v1/Operation';
import type { TestCluster } from './cluster';

// Waits for an operation to end, at most `timeoutMs` (60 s unless a test knows better). A hang
// fails here with the operation as it stands and the processes' logs, not as a test timeout.
export async function waitOp(cluster: TestCluster, id: string, timeoutMs = 60_000): Promise<Operation__Output> {
  const op = await cluster.portal.waitOperation({ id, timeoutMs }, timeoutMs + 10_000);
  if (op.state === 'running') throw new Error(`operation ${id} still running after ${timeoutMs / 1000} s: ${describeOp(op)}\n${cluster.logs()}`);
  return op;
}

// Waits, then checks the operation ended in `state`; the failure message carries its error,
// its steps and the logs.
export async function expectOp(cluster: TestCluster, id: string, state: 'succeeded' | 'failed', timeoutMs = 60_000): Promise<Operation__Output> {
  const op = await waitOp(cluster, id, timeoutMs);
  if (op.state !== state) throw new Error(`operation ${id} ${op.state}, expected ${state}: ${describeOp(op)}\n${cluster.logs()}`);
  return op;
}

export function describeOp(op: Operation__Output): string {
  return `${op.type} ${op.state} ${op.error ? `(${op.error}) ` : ''}steps ${op.steps.map((s) => `${s.name}=${s.state}${s.error ? `(${s.error})` : ''}`).join(' ')}`;
}

// The status a call ended with: "OK" or the gRPC code's name, with the details.
export async function statusOf(p: Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await p;
    return { code: 'OK', details: '' };
  } catch (err) {
    const e = err as grpc.ServiceError;
    if (typeof e.code !== 'number') throw err;
    return { code: grpc.status[e.code]!, details: e.details };
  }
}
