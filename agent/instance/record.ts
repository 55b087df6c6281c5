import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LABEL } from '../docker';
import type { Layout } from './layout';
import type { GroupConfig } from '../../src/mysql/dialect-interface';

export type Role = 'standalone' | 'primary' | 'replica';

// What the agent wants an instance to be, kept beside its data directory. The agent owns it and
// can change it (a resize, a promotion, read-only) where Docker labels cannot change after
// creation, so a `docker update` and an agent restart agree on the shape the agent reports.
export interface DesiredState {
  version: 1;
  id: string;
  name: string;
  image: string;
  port: number;
  diskPath: string;
  serverId: number;
  shape: { cpuMillis: number; memoryBytes: number; diskBytes: number };
  role: Role;
  readOnly: boolean;
  // Member of a semi-sync cluster (AgentCreateInstanceRequest.semi_sync_timeout_ms); absent: none.
  semiSyncTimeoutMs?: number;
  // Member of a consensus cluster (AgentCreateInstanceRequest.group); absent: none. Kept so every
  // re-render of my.cnf (a resize) keeps the group's section.
  group?: GroupConfig;
  // Learned from the image's mysqld.
  flavor: string;
  mysqlVersion: string;
  updatedAt: string;
  // When mysqld first came up on this data directory: from then on it may hold a client's
  // data, and a failed create keeps it (RemoveInstance keep_started_data).
  firstStartedAt?: string;
  // Set when mysqld serves TLS (the node had a MySQL certificate at create time).
  tls?: { required: boolean };
}

export const RECORD_FILE = 'instance.json';
export const recordPath = (layout: Layout) => path.join(layout.root, RECORD_FILE);

// Written to a temporary file, flushed, and renamed over the old one, so a crash leaves either
// the old record or the new one, never half of one.
export async function writeRecord(layout: Layout, rec: DesiredState): Promise<void> {
  const file = recordPath(layout);
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  const fh = await fs.open(tmp, 'w', 0o640);
  try {
    await fh.writeFile(JSON.stringify({ ...rec, updatedAt: new Date().toISOString() }, null, 2) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
  const dir = await fs.open(layout.root, 'r');
  await dir.sync().finally(() => dir.close());
}

export async function readRecord(layout: Layout): Promise<DesiredState | undefined> {
  const text = await fs.readFile(recordPath(layout), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  return text === undefined ? undefined : parseRecord(text);
}

export function parseRecord(text: string): DesiredState {
  const r = JSON.parse(text) as Partial<DesiredState>;
  if (r.version !== 1 || !r.id || !r.shape || typeof r.port !== 'number') throw new Error(`not a berth instance record (version ${String(r.version)})`);
  return { role: 'standalone', readOnly: false, flavor: '', mysqlVersion: '', updatedAt: '', ...r } as DesiredState;
}

// A container made before records existed keeps its shape in its labels: the first listing
// after an upgrade writes the record from them.
export function recordFromLabels(labels: Record<string, string>, image: string): DesiredState | undefined {
  const id = labels[LABEL.instance];
  if (!id || !labels[LABEL.port] || !labels[LABEL.cpuMillis]) return undefined;
  return {
    version: 1,
    id,
    name: labels[LABEL.name] ?? '',
    image,
    port: Number(labels[LABEL.port]),
    diskPath: labels[LABEL.disk] ?? '',
    serverId: 0,
    shape: { cpuMillis: Number(labels[LABEL.cpuMillis]), memoryBytes: Number(labels[LABEL.memory] ?? 0), diskBytes: Number(labels[LABEL.diskBytes] ?? 0) },
    role: 'standalone',
    readOnly: false,
    flavor: labels[LABEL.flavor] ?? '',
    mysqlVersion: labels[LABEL.version] ?? '',
    updatedAt: '',
  };
}
