import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { AgentCreateInstanceRequest } from '../../src/gen/berth/v1/AgentCreateInstanceRequest';
import type { Flavor } from '../../src/mysql/dialect';
import type { AsyncClient } from '../../src/rpc';

// One MySQL instance as data movement sees it: where its agent and its mysqld answer.
export interface Endpoint {
  // The berth instance id.
  id: string;
  flavor: Flavor;
  // Its agent: unary calls through the manager's pool, and the address for streams and for
  // agent-to-agent pulls.
  agent: AsyncClient<AgentClient>;
  // A client for the agent's server-streaming calls (SeedInstance), on the same TLS channel as
  // `agent` (AgentPool.raw); without it the copy dials agentAddress in plaintext (--insecure).
  streams?: AgentClient;
  agentAddress: string;
  // The node whose certificate the agent's channel verifies (AgentPool dials each agent
  // expecting its node's certificate): a hot copy's grant names this node, never one looked up
  // by address (two node rows may share an address, one of them gone).
  node?: string;
  // Where mysqld serves (replicas connect here).
  host: string;
  port: number;
}

// A new instance that a copy creates: everything CreateInstance needs (replica is forced on).
export interface TargetEndpoint extends Endpoint {
  create: AgentCreateInstanceRequest;
}

// Reported as work goes on; matches the operations engine's ctx.progress().
export interface MovementProgress {
  phase: string;
  bytesDone?: number;
  bytesTotal?: number;
  bytesPerSecond?: number;
  // A finished hot copy: how its bytes came ("direct" socket or "grpc" messages).
  transport?: string;
  lagSeconds?: number;
  lagTransactions?: number;
}

export interface MovementOptions {
  onProgress?: (p: MovementProgress) => void;
  // Stops the work (the operation was cancelled); the function undoes what it made.
  signal?: AbortSignal;
}

export class MovementAborted extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'MovementAborted';
  }
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new MovementAborted(signal.reason instanceof Error ? signal.reason.message : String(signal.reason ?? 'aborted'));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done);
  });
}
