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

function load<T>(file: string): T {
  const root = protoRoot();
  const def = protoLoader.loadSync(path.join(root, file), { ...LOADER_OPTIONS, includeDirs: [root] });
  return grpc.loadPackageDefinition(def) as unknown as T;
}

let portal: PortalProto | undefined;
let agent: AgentProto | undefined;
export const portalProto = (): PortalProto => (portal ??= load<PortalProto>('berth/v1/portal.proto'));
export const agentProto = (): AgentProto => (agent ??= load<AgentProto>('berth/v1/agent.proto'));

