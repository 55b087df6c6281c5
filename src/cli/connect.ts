import { followLeader } from './follow-leader';
import { retrySafe } from './retry-safe';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { PortalClient } from '../gen/berth/v1/Portal';
import { portalProto } from '../proto';
import { asyncClient, CHANNEL_OPTIONS, type AsyncClient } from '../rpc';
import { caOnlyCredentials, channelCredentials } from '../tls/credentials';

// How berthctl reaches the portal. Each field comes from its flag, else its environment
// variable, else the config file (written by set-up / `berthctl certs init --config`), else the
// default: after `npm start` a bare `npx berthctl` finds the admin client certificate.
export interface ConnectionFlags {
  manager?: string;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
  insecure?: boolean;
  config?: string;
  // The run's idempotency key (retry-safe.ts); a new UUID when absent.
  requestId?: string;
}

export interface ClientConfig {
  manager?: string;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
  insecure?: boolean;
}

export function configCandidates(explicit?: string): string[] {
  if (explicit) return [explicit];
  if (process.env.BERTH_CONFIG) return [process.env.BERTH_CONFIG];
  return [path.resolve(process.env.BERTH_STATE_DIR ?? '.berth', 'berthctl.json'), path.join(os.homedir(), '.config', 'berth', 'berthctl.json')];
}

export function loadConfig(explicit?: string): { file?: string; config: ClientConfig } {
  for (const file of configCandidates(explicit)) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      if (explicit) throw new Error(`cannot read config file ${file}`);
      continue;
    }
    try {
      const config = JSON.parse(text) as ClientConfig;
      // Relative paths in the file are relative to the file.
      for (const k of ['ca', 'cert', 'key'] as const) if (config[k]) config[k] = path.resolve(path.dirname(file), config[k]);
      return { file, config };
    } catch (err) {
      throw new Error(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  return { config: {} };
}

export function resolveConnection(f: ConnectionFlags): Required<Pick<ClientConfig, 'manager'>> & ClientConfig {
  const { config } = loadConfig(f.config);
  const env = process.env;
  return {
    manager: f.manager ?? env.BERTH_MANAGER ?? config.manager ?? '127.0.0.1:7400',
    ca: f.ca ?? env.BERTH_CA ?? config.ca,
    cert: f.cert ?? env.BERTH_CERT ?? config.cert,
    key: f.key ?? env.BERTH_KEY ?? config.key,
    token: f.token ?? env.BERTH_TOKEN ?? config.token,
    insecure: f.insecure ?? (env.BERTH_INSECURE ? env.BERTH_INSECURE === '1' : config.insecure),
  };
}

export function portalClient(f: ConnectionFlags): AsyncClient<PortalClient> {
  const { raw, meta } = rawPortalClient(f);
  // A follower manager names the leader: calls go there (docs/ha.md).
  const dial = (manager: string) => {
    const c = rawPortalClient({ ...f, manager });
    return asyncClient(c.raw, undefined, c.meta);
  };
  return retrySafe(followLeader(asyncClient(raw, undefined, meta), dial), f.requestId || undefined);
}

// The plain client, for server streams (WatchOperations, WatchEvents), and the metadata every
// call carries (a bearer token).
export function rawPortalClient(f: ConnectionFlags): { raw: PortalClient; meta: grpc.Metadata } {
  const c = resolveConnection(f);
  const Portal = portalProto().berth.v1.Portal;
  let creds: grpc.ChannelCredentials;
  if (c.insecure) creds = grpc.credentials.createInsecure();
  else if (!c.ca) throw new Error('no CA certificate: give --ca (or BERTH_CA, or a config file from set-up), or --insecure for a plaintext manager');
  else if (c.cert && c.key) creds = channelCredentials({ ca: c.ca, cert: c.cert, key: c.key }, { kind: 'manager' });
  else creds = caOnlyCredentials(c.ca, { kind: 'manager' });
  const meta = new grpc.Metadata();
  if (c.token) meta.set('authorization', `Bearer ${c.token}`);
  return { raw: new Portal(c.manager, creds, CHANNEL_OPTIONS), meta };
}
