import * as grpc from '@grpc/grpc-js';
import type { PeerCertificate } from 'node:tls';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import { unavailable } from '../../src/errors';
import { agentProto } from '../../src/proto';
import { asyncClient, CHANNEL_OPTIONS, type AsyncClient } from '../../src/rpc';
import { channelCredentials, type TlsFiles } from '../../src/tls/credentials';
import type { NodesTable } from '../store/nodes';

// One gRPC channel per agent, re-dialled when an agent registers from a new address.
export class AgentPool {
  private readonly clients = new Map<string, { address: string; client: AsyncClient<AgentClient>; raw: AgentClient; channel: grpc.ChannelInterface }>();
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
    const client = asyncClient(raw);
    this.clients.set(node, { address: row.agentAddress, client, raw, channel: raw.getChannel() });
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }
}
