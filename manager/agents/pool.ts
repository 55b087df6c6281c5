import * as grpc from '@grpc/grpc-js';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import { unavailable } from '../../src/errors';
import { agentProto } from '../../src/proto';
import { asyncClient, type AsyncClient } from '../../src/rpc';
import type { NodesTable } from '../store/nodes';

// One gRPC channel per agent, re-dialled when an agent registers from a new address.
export class AgentPool {
  private readonly clients = new Map<string, { address: string; client: AsyncClient<AgentClient>; channel: grpc.ChannelInterface }>();

  constructor(private readonly nodes: NodesTable) {}

  for(node: string): AsyncClient<AgentClient> {
    const row = this.nodes.get(node);
    if (!row) throw unavailable(`node ${node} is not registered`);
    const cur = this.clients.get(node);
    // A channel that failed to connect waits out a backoff before it tries again, failing every
    // call meanwhile: an agent back on the same address would be refused for seconds. Re-dial.
    const failed = cur?.channel.getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE;
    if (cur && cur.address === row.agentAddress && !failed) return cur.client;
    cur?.client.close();
    const Agent = agentProto().berth.v1.Agent;
    const raw = new Agent(row.agentAddress, grpc.credentials.createInsecure());
    const client = asyncClient(raw);
    this.clients.set(node, { address: row.agentAddress, client, channel: raw.getChannel() });
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }
}
