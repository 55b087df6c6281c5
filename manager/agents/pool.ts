import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import { unavailable } from '../../src/errors';
import { agentProto } from '../../src/proto';
import { asyncClient, CHANNEL_OPTIONS, DEFAULT_DEADLINE_MS, EPOCH_METADATA, metadataInterceptor, type AsyncClient } from '../../src/rpc';
import { channelCredentials, type TlsFiles } from '../../src/tls/credentials';
import type { NodesTable } from '../store/nodes';

// Every SetReadOnly the manager sends is numbered (agent/write-gate.ts): a later call has a
// higher number, across restarts of the manager too (the clock moves on).
let lastSeq = 0;
export function nextWriteSeq(): number {
  lastSeq = Math.max(lastSeq + 1, Date.now());
  return lastSeq;
}

// One gRPC channel per agent, re-dialled when an agent registers from a new address.
export class AgentPool {
  private readonly clients = new Map<string, { address: string; client: AsyncClient<AgentClient>; raw: AgentClient; channel: grpc.ChannelInterface }>();
  // Each agent's own clock when it sent the last heartbeat heard from it: the base of the write
  // grant a request to make one of its servers writable carries.
  private readonly agentClock = new Map<string, { agentMs: number; heardAtMs: number }>();
  private readonly waiting = new Map<string, Set<() => void>>();
  // How long such a grant is good for on the agent: the write lease (shorter than the failure
  // detection, so no replica is promoted while a grant could still open the old primary).
  writeGrantMs = 4000;
  // Whether an instance is a cluster member (its agent covers it by the write lease once it is
  // made writable); set by main from the store.
  leased: (id: string) => boolean = () => false;
  // Set by followRegistrations(): a node's address is read from the store once, not per call.
  private trusted?: Set<string>;
  // This manager's leader epoch (manager/leader/), sent with every call on every channel, so an
  // agent refuses a deposed leader (agent/epoch.ts). 0: none sent.
  epoch = 0;
  private readonly withEpoch = { ...CHANNEL_OPTIONS, interceptors: [metadataInterceptor(EPOCH_METADATA, () => (this.epoch > 0 ? String(this.epoch) : undefined))] };

  // tls: the manager's own files; each agent must then present its node's certificate, so a
  // process at a registered address that is not that node gets no request (and no password).
  constructor(
    private readonly nodes: NodesTable,
    private readonly tls?: TlsFiles,
    // A revoked agent certificate is refused at the handshake of every new connection.
    private readonly refuse?: (cert: PeerCertificate) => string | undefined,
  ) {}

  // The same channel's plain client, for server-streaming calls (a hot copy's progress).
  raw(node: string): AgentClient {
    this.for(node);
    return this.clients.get(node)!.raw;
  }

  // An agent's address changes only when it registers: told of every registration, the pool
  // keeps using a node's channel without reading the node's row on every call (a store read that
  // showed in the manager's profile at a few percent of a create).
  followRegistrations(onEvent: (listener: (e: { kind: string; subject: string }) => void) => void): void {
    this.trusted = new Set();
    onEvent((e) => {
      if (e.kind === 'node.registered') this.trusted?.delete(e.subject);
    });
  }

  // A heartbeat (or registration) the agent sent at `agentSentAtMs` by its clock was received.
  heard(node: string, agentSentAtMs: number): void {
    if (agentSentAtMs <= (this.agentClock.get(node)?.agentMs ?? 0)) return;
    this.agentClock.set(node, { agentMs: agentSentAtMs, heardAtMs: Date.now() });
    for (const wake of this.waiting.get(node) ?? []) wake();
    this.waiting.delete(node);
  }

  // The grant for a request sent now. A base with less than a second of the grant left (an
  // agent whose heartbeats come late, a manager that just started) would likely be refused on
  // arrival: the next heartbeat is awaited first, for at most `waitMs`. Heartbeats come every
  // 2 s and the grant is the write lease (4 s), so a live agent's opens do not wait.
  private async grantFor(node: string, id: string, waitMs: number): Promise<{ baseMs: number; grantMs: number; leased: boolean }> {
    const stale = () => Date.now() - (this.agentClock.get(node)?.heardAtMs ?? 0) > this.writeGrantMs - Math.min(1000, this.writeGrantMs / 4);
    if (stale()) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, waitMs);
        const set = this.waiting.get(node) ?? new Set<() => void>();
        function done() {
          clearTimeout(timer);
          set.delete(done);
          resolve();
        }
        set.add(done);
        this.waiting.set(node, set);
      });
    }
    return { baseMs: this.agentClock.get(node)?.agentMs ?? 0, grantMs: this.writeGrantMs, leased: this.leased(id) };
  }

  for(node: string): AsyncClient<AgentClient> {
    const cur = this.clients.get(node);
    if (cur && this.trusted?.has(node) && cur.channel.getConnectivityState(false) !== grpc.connectivityState.TRANSIENT_FAILURE) return cur.client;
    const row = this.nodes.get(node);
    if (!row) throw unavailable(`node ${node} is not registered`);
    this.trusted?.add(node);
    // A channel that failed to connect waits out a backoff before it tries again, failing every
    // call meanwhile: an agent back on the same address would be refused for seconds. Re-dial.
    const failed = cur?.channel.getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE;
    if (cur && cur.address === row.agentAddress && !failed) return cur.client;
    cur?.client.close();
    const Agent = agentProto().berth.v1.Agent;
    const raw = new Agent(row.agentAddress, this.tls ? channelCredentials(this.tls, { kind: 'node', name: node }, true, this.refuse) : grpc.credentials.createInsecure(), this.withEpoch);
    const client = this.ordered(node, asyncClient(raw));
    this.clients.set(node, { address: row.agentAddress, client, raw, channel: raw.getChannel() });
    return client;
  }

  // A request to make a server writable is granted from the node's last heartbeat (none heard
  // since this manager started: the agent refuses it, the caller retries).
  private ordered(node: string, c: AsyncClient<AgentClient>): AsyncClient<AgentClient> {
    return orderedAgent(c, (id, deadlineMs) => this.grantFor(node, id, Math.min(deadlineMs / 2, 5000)));
  }

  close(): void {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }
}

// An agent client whose SetReadOnly calls are numbered and, when they make a server writable,
// carry the write grant `grant` answers (agent/write-gate.ts).
type Grant = { baseMs: number; grantMs: number; leased?: boolean };
export function orderedAgent(c: AsyncClient<AgentClient>, grant: (id: string, deadlineMs: number) => Grant | Promise<Grant>): AsyncClient<AgentClient> {
  const setReadOnly: AsyncClient<AgentClient>['setReadOnly'] = async (req, deadlineMs = DEFAULT_DEADLINE_MS) => {
    const t0 = Date.now();
    // Numbered when asked for, not when sent: a close asked for while this open waits for its
    // grant comes later, and wins.
    const seq = nextWriteSeq();
    const g = req.readOnly ? undefined : await grant(req.id ?? '', deadlineMs);
    return c.setReadOnly({ ...req, seq, ...(g ? { grantBaseMs: g.baseMs, grantMs: g.grantMs, leased: Boolean(g.leased) } : {}) }, Math.max(1, deadlineMs - (Date.now() - t0)));
  };
  return new Proxy(c, { get: (t, prop) => (prop === 'setReadOnly' ? setReadOnly : Reflect.get(t, prop)) });
}
