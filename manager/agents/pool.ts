import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import { unavailable } from '../../src/errors';
import { agentProto } from '../../src/proto';
import { asyncClient, CHANNEL_OPTIONS, type AsyncClient } from '../../src/rpc';
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
  private readonly agentClock = new Map<string, number>();
  // How long such a grant is good for on the agent: the write lease (shorter than the failure
  // detection, so no replica is promoted while a grant could still open the old primary).
  writeGrantMs = 4000;
  // Set by followRegistrations(): a node's address is read from the store once, not per call.
  private trusted?: Set<string>;

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
    if (agentSentAtMs > (this.agentClock.get(node) ?? 0)) this.agentClock.set(node, agentSentAtMs);
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
    const raw = new Agent(row.agentAddress, this.tls ? channelCredentials(this.tls, { kind: 'node', name: node }, true, this.refuse) : grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    const client = this.ordered(node, asyncClient(raw));
    this.clients.set(node, { address: row.agentAddress, client, raw: raw as unknown as AgentClient, channel: raw.getChannel() });
    return client;
  }

  // A request to make a server writable is granted from the node's last heartbeat (none heard
  // since this manager started: the agent refuses it, the caller retries).
  private ordered(node: string, c: AsyncClient<AgentClient>): AsyncClient<AgentClient> {
    return orderedAgent(c, () => ({ baseMs: this.agentClock.get(node) ?? 0, grantMs: this.writeGrantMs }));
  }

  close(): void {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }
}

// An agent client whose SetReadOnly calls are numbered and, when they make a server writable,
// carry the write grant `grant` answers (agent/write-gate.ts).
export function orderedAgent(c: AsyncClient<AgentClient>, grant: () => { baseMs: number; grantMs: number }): AsyncClient<AgentClient> {
  const setReadOnly: AsyncClient<AgentClient>['setReadOnly'] = (req, deadlineMs) => {
    const g = req.readOnly ? undefined : grant();
    return c.setReadOnly({ ...req, seq: nextWriteSeq(), ...(g ? { grantBaseMs: g.baseMs, grantMs: g.grantMs } : {}) }, deadlineMs);
  };
  return new Proxy(c, { get: (t, prop) => (prop === 'setReadOnly' ? setReadOnly : Reflect.get(t, prop)) });
}
