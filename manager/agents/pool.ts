import * as grpc from '@grpc/grpc-js';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import { unavailable } from '../../src/errors';
import { agentProto } from '../../src/proto';
import { asyncClient, type AsyncClient } from '../../src/rpc';
import type { NodesTable } from '../store/nodes';

// One gRPC channel per agent, re-dialled when an agent registers from a new address.
export class AgentPool {
  private readonly clients = new Map<string, { address: string; client: AsyncClient<AgentClient> }>();

  constructor(private readonly nodes: NodesTable) {}

  for(node: string): AsyncClient<AgentClient> {
    const row = this.nodes.get(node);
    if (!row) throw unavailable(`node ${node} is not registered`);
    const cur = this.clients.get(node);
    if (cur && cur.address === row.agentAddress) return cur.client;
    cur?.client.close();
    const Agent = agentProto().berth.v1.Agent;
    const client = asyncClient(new Agent(row.agentAddress, grpc.credentials.createInsecure()));
    this.clients.set(node, { address: row.agentAddress, client });
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) c.client.close();
    this.clients.clear();
  }
}
