import * as grpc from '@grpc/grpc-js';
import type { RegistryClient } from '../src/gen/berth/v1/Registry';
import { LEADER_REGISTRY_METADATA, type AsyncClient } from '../src/rpc';

// Which of the manager addresses an agent was given to try after a call failed: the leader a
// follower named (when it is one of them), else the next one. Pure.
export function nextManager(addresses: string[], current: number, named: string | undefined): number {
  const i = named === undefined ? -1 : addresses.indexOf(named);
  if (i >= 0 && i !== current) return i;
  return (current + 1) % addresses.length;
}

// Errors that mean "not this manager": it is gone, cut off, or a follower.
const MOVE_ON = new Set([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]);

// The registry of whichever manager leads. The agent heartbeats to one manager at a time; a
// call that fails because that one is gone or follows moves to the next (the leader a follower
// named first), and the heartbeat re-registers there at its next tick.
export class ManagerRing {
  private current = 0;
  private readonly clients: AsyncClient<RegistryClient>[];

  constructor(
    readonly addresses: string[],
    dial: (address: string) => AsyncClient<RegistryClient>,
    private readonly onMove?: (from: string, to: string, why: string) => void,
  ) {
    if (addresses.length === 0) throw new Error('at least one manager address is needed');
    this.clients = addresses.map(dial);
  }

  get address(): string {
    return this.addresses[this.current]!;
  }

  failed(err: unknown): void {
    const code = (err as { code?: number }).code;
    if (this.addresses.length < 2 || code === undefined || !MOVE_ON.has(code)) return;
    const md = (err as { metadata?: grpc.Metadata }).metadata;
    const named = md?.get(LEADER_REGISTRY_METADATA)[0];
    const from = this.address;
    this.current = nextManager(this.addresses, this.current, named === undefined ? undefined : String(named));
    this.onMove?.(from, this.address, (err as Error).message);
  }

  // One client object whose calls go to the current manager.
  client(): AsyncClient<RegistryClient> {
    return new Proxy({} as AsyncClient<RegistryClient>, {
      get: (_t, prop: string) => {
        if (prop === 'then') return undefined;
        if (prop === 'close') return () => this.clients.forEach((c) => c.close());
        return async (req: unknown, deadlineMs?: number) => {
          const c = this.clients[this.current] as unknown as Record<string, (r: unknown, d?: number) => Promise<unknown>>;
          try {
            return await c[prop]!(req, deadlineMs);
          } catch (err) {
            this.failed(err);
            throw err;
          }
        };
      },
    });
  }
}
