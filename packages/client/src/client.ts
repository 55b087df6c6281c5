import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from './gen/portal';
import type { PortalClient } from './gen/berth/v1/Portal';
import type { Event__Output } from './gen/berth/v1/Event';
import type { Operation__Output } from './gen/berth/v1/Operation';
import { callMetadata, credentialsFor, DEFAULT_CHANNEL_OPTIONS, type ConnectionOptions } from './connect';
import { DEFAULT_RETRY, withRetry, type RetryPolicy } from './retry';
import { ENDED_STATES, followEvents, OperationFailedError, watchOperation, type StreamDeps } from './watch';
import { pages, type Paged } from './pages';

// The generated client overloads each method; the last overload (argument, callback) is the
// one these infer from.
type Unary<F> = F extends (arg: infer A, cb: grpc.requestCallback<infer R>) => grpc.ClientUnaryCall ? (arg: A, options?: CallOptions) => Promise<R> : never;

// Every unary Portal RPC as a promise: `await berth.call.createInstance({...})`.
export type PortalCalls = {
  [K in keyof PortalClient as K extends `${Lowercase<string>}${string}` ? (Unary<PortalClient[K]> extends never ? never : K) : never]: Unary<PortalClient[K]>;
};

export interface CallOptions {
  deadlineMs?: number;
}

export interface ClientOptions extends ConnectionOptions {
  // Per call, unless the call says otherwise. A silent manager becomes DEADLINE_EXCEEDED (and a
  // retry), never a hang.
  deadlineMs?: number;
  retry?: Partial<RetryPolicy>;
}

// Same loader options as berth's own processes (and the generated types).
const LOADER: protoLoader.Options = { keepCase: false, longs: Number, enums: String, defaults: true, arrays: true, oneofs: true };

function loadPortal(): { proto: ProtoGrpcType; mutating: Set<string> } {
  const root = path.resolve(__dirname, '..', 'proto');
  const def = protoLoader.loadSync(path.join(root, 'berth/v1/portal.proto'), { ...LOADER, includeDirs: [root] });
  return { proto: grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType, mutating: mutatingMethods(def) };
}

// A method changes something exactly when its request carries `request_id` (the idempotency
// key of portal.proto; the loader names it requestId): read from the protos, so a new mutating
// RPC is retried safely without a list to keep up to date.
// Reads share some request messages with changes (GetCluster and DeleteCluster); the Portal
// names its reads Get*, List*, Watch* and Plan*.
const READS = /^(get|list|watch|plan)[A-Z]/;

export function mutatingMethods(def: protoLoader.PackageDefinition): Set<string> {
  const service = def['berth.v1.Portal'] as protoLoader.ServiceDefinition;
  const out = new Set<string>();
  for (const m of Object.values(service)) {
    const fields = (m.requestType.type as { field?: { name: string }[] }).field ?? [];
    if (fields.some((f) => f.name === 'request_id' || f.name === 'requestId') && !READS.test(m.originalName ?? '')) out.add(m.originalName ?? '');
  }
  return out;
}

// The metadata key a follower manager names the leader's portal address with.
const LEADER_METADATA = 'berth-leader';

// A client of berth's Portal API. One channel; close() when done.
export class BerthClient {
  readonly raw: PortalClient;
  // The unary RPCs, retried on UNAVAILABLE / DEADLINE_EXCEEDED: reads as they are, changes with
  // one request id over every attempt (the manager answers a repeat with the first result).
  readonly call: PortalCalls;
  private readonly policy: RetryPolicy;
  private readonly streams: StreamDeps;
  // Where unary calls go: the manager given, or the leader a follower named (docs/ha.md), so
  // the retry of a refused call reaches the leader.
  private unary: { address: string; client: PortalClient };

  constructor(private readonly o: ClientOptions) {
    const { proto, mutating } = loadPortal();
    this.raw = new proto.berth.v1.Portal(o.address, credentialsFor(o), { ...DEFAULT_CHANNEL_OPTIONS, ...o.channelOptions });
    this.unary = { address: o.address, client: this.raw };
    this.policy = { ...DEFAULT_RETRY, ...o.retry };
    const metadata = callMetadata(o);
    const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
    this.streams = { raw: this.raw, metadata: () => metadata.clone(), policy: this.policy, sleep };
    this.call = this.unaryCalls(mutating, metadata);
  }

  private unaryCalls(mutating: Set<string>, metadata: grpc.Metadata): PortalCalls {
    const raw = this.raw as unknown as Record<string, Function>;
    return new Proxy({} as PortalCalls, {
      get: (_t, prop: string) => {
        if (typeof raw[prop] !== 'function' || !/^[a-z]/.test(prop) || prop.startsWith('watch')) return undefined;
        const once = (req: object, options?: CallOptions) =>
          new Promise((resolve, reject) => {
            const deadline = Date.now() + (options?.deadlineMs ?? this.o.deadlineMs ?? 10_000);
            const client = this.unary.client;
            (client as unknown as Record<string, Function>)[prop]!.call(client, req, metadata.clone(), { deadline }, (err: grpc.ServiceError | null, res: unknown) => (err ? (this.follow(err), reject(err)) : resolve(res)));
          });
        return (req: object, options?: CallOptions) => withRetry((r) => once(r, options), req ?? {}, { mutating: mutating.has(prop), policy: this.policy });
      },
    });
  }

  // Every state of an operation until it ends (resumes after a broken stream).
  watchOperation(id: string, signal?: AbortSignal): AsyncGenerator<Operation__Output> {
    return watchOperation(this.streams, id, signal);
  }

  // Waits for an operation to end, calling `progress` with each state; answers the final state,
  // or throws OperationFailedError when it did not succeed.
  async waitOperation(id: string, progress?: (op: Operation__Output) => void, signal?: AbortSignal): Promise<Operation__Output> {
    let last: Operation__Output | undefined;
    for await (const op of this.watchOperation(id, signal)) {
      last = op;
      progress?.(op);
    }
    if (!last || !ENDED_STATES.has(last.state)) throw new Error(`stopped waiting for operation ${id} before it ended`);
    if (last.state !== 'succeeded') throw new OperationFailedError(last);
    return last;
  }

  // Events as they are recorded (after `afterId`; 0: from now on), until `signal` aborts.
  events(q: { afterId?: number; kind?: string; subject?: string } = {}, signal?: AbortSignal): AsyncGenerator<Event__Output> {
    return followEvents(this.streams, q, signal);
  }

  // Every item of a paged list, page by page: `for await (const i of berth.all('listInstances',
  // {}, (r) => r.instances))`.
  all<K extends keyof PortalCalls, Item>(method: K, req: Parameters<PortalCalls[K]>[0], items: (page: Awaited<ReturnType<PortalCalls[K]>>) => Item[]): AsyncGenerator<Item> {
    const fetch = this.call[method] as unknown as (r: object) => Promise<Paged>;
    return pages(fetch, req as object, items as (p: Paged) => Item[]);
  }

  // A follower's refusal names the leader (trailing metadata berth-leader): the next attempt
  // goes there.
  private follow(err: grpc.ServiceError): void {
    const leader = err.code === grpc.status.UNAVAILABLE ? err.metadata?.get(LEADER_METADATA)[0] : undefined;
    if (leader === undefined || String(leader) === this.unary.address) return;
    if (this.unary.client !== this.raw) this.unary.client.close();
    const { proto } = loadPortal();
    this.unary = { address: String(leader), client: new proto.berth.v1.Portal(String(leader), credentialsFor(this.o), { ...DEFAULT_CHANNEL_OPTIONS, ...this.o.channelOptions }) };
  }

  close(): void {
    if (this.unary.client !== this.raw) this.unary.client.close();
    this.raw.close();
  }
}
