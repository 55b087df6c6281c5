import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType as PortalProto } from './gen/portal';
import type { ProtoGrpcType as AgentProto } from './gen/agent';

// Same options as `npm run gen` passes to proto-loader-gen-types, so the generated types
// describe exactly what the loader produces.
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

// Works from src/ (vitest) and from dist/src/ (compiled).
function protoRoot(): string {
  const candidates = [path.resolve(__dirname, '..', 'proto'), path.resolve(__dirname, '..', '..', 'proto')];
  for (const c of candidates) {
    try {
      require('node:fs').accessSync(path.join(c, 'berth/v1/portal.proto'));
      return c;
    } catch {
      /* try the next */
    }
  }
  throw new Error(`cannot find proto/berth/v1/portal.proto near ${__dirname}`);
}

const defs = new Map<string, protoLoader.PackageDefinition>();
function definition(file: string): protoLoader.PackageDefinition {
  let def = defs.get(file);
  if (!def) {
    const root = protoRoot();
    def = protoLoader.loadSync(path.join(root, file), { ...LOADER_OPTIONS, includeDirs: [root] });
    defs.set(file, def);
  }
  return def;
}

function load<T>(file: string): T {
  return grpc.loadPackageDefinition(definition(file)) as unknown as T;
}

// The Portal methods whose request carries `request_id` (the loader names it requestId): the
// ones that change something, and that a client may ask again only with the same id. Read
// from the protos, so a new mutating RPC is never retried without one.
// Reads share some request messages with changes (GetCluster and DeleteCluster); the Portal
// names its reads Get*, List*, Watch* and Plan*.
const READS = /^(get|list|watch|plan)[A-Z]/;

export function portalMutatingMethods(): Set<string> {
  const service = definition('berth/v1/portal.proto')['berth.v1.Portal'] as protoLoader.ServiceDefinition;
  const out = new Set<string>();
  for (const m of Object.values(service)) {
    const fields = (m.requestType.type as { field?: { name: string }[] }).field ?? [];
    if (fields.some((f) => f.name === 'requestId' || f.name === 'request_id') && !READS.test(m.originalName ?? '')) out.add(m.originalName ?? '');
  }
  return out;
}

let portal: PortalProto | undefined;
let agent: AgentProto | undefined;
export const portalProto = (): PortalProto => (portal ??= load<PortalProto>('berth/v1/portal.proto'));
export const agentProto = (): AgentProto => (agent ??= load<AgentProto>('berth/v1/agent.proto'));

