import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { expect } from 'vitest';
import type { Operation__Output } from '../../src/gen/berth/v1/Operation';
import type { TestCluster } from './cluster';

// The two images set-up builds; integration suites run once per flavor (describe.each).
export interface FlavorCase {
  flavor: 'mariadb' | 'mysql';
  image: string;
  // What the agent reports as the server version.
  version: RegExp;
}

export const FLAVORS: FlavorCase[] = [
  { flavor: 'mariadb', image: process.env.BERTH_MARIADB_IMAGE ?? 'berth/mariadb:10.11', version: /^10\.11\.\d+$/ },
  { flavor: 'mysql', image: process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7', version: /^9\.7\.\d+$/ },
];

// Manager flags so that a create with no image, and one with `flavor`, both get this flavor.
export const flavorArgs = (f: FlavorCase): string[] => [
  '--image', f.image,
  '--mariadb-image', FLAVORS[0]!.image,
  '--mysql-image', FLAVORS[1]!.image,
];

const OP_WAIT_MS = 60_000;

// Waits at most 60 s: a hang fails with the operation's own steps and error, not a test timeout.
export async function waitOp(cluster: TestCluster, id: string, want: 'succeeded' | 'failed' = 'succeeded'): Promise<Operation__Output> {
  const op = await cluster.portal.waitOperation({ id, timeoutMs: OP_WAIT_MS }, OP_WAIT_MS + 10_000);
  const steps = op.steps.map((s) => `${s.name}=${s.state}${s.error ? ` (${s.error})` : ''}`).join(', ');
  const still = op.state === 'running' ? ` after ${OP_WAIT_MS / 1000} s` : '';
  expect(op.state, `operation ${op.id} ${op.type}: ${op.state}${still}; steps ${steps}; error ${op.error}\n${cluster.logs()}`).toBe(want);
  return op;
}

export async function expectStatus(p: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    expect(grpc.status[e.code]).toBe(grpc.status[code]);
    if (message) expect(e.details).toMatch(message);
    return;
  }
  throw new Error(`expected ${grpc.status[code]}, the call succeeded`);
}

// mysqld's error log for an instance: [Warning] lines that name a removed or deprecated option
// or variable mean my.cnf (or the dialect) uses an old name.
export function configWarnings(diskPath: string, instanceId: string): string[] {
  const log = fs.readFileSync(path.join(diskPath, 'berth', instanceId, 'log', 'error.log'), 'utf8');
  return log.split('\n').filter((l) => /\[Warning\]/i.test(l) && /deprecated|removed|unknown (variable|option)|will be removed|no longer/i.test(l));
}
