import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { AsyncClient } from '../rpc';
import type { PortalClient } from '../gen/berth/v1/Portal';
import { portalMutatingMethods } from '../proto';
import { retrySafe } from './retry-safe';

const failure = (code: grpc.status) => Object.assign(new Error(grpc.status[code]), { code, details: grpc.status[code], metadata: new grpc.Metadata() });

// A portal whose calls fail with the given codes first, recording what each attempt sent.
function fakePortal(failures: Record<string, grpc.status[]>) {
  const sent: [string, { requestId?: string }][] = [];
  const client = new Proxy({}, {
    get: (_t, prop: string) => async (arg: { requestId?: string }) => {
      sent.push([prop, arg]);
      const f = failures[prop]?.shift();
      if (f !== undefined) throw failure(f);
      return { id: `op-${prop}` };
    },
  }) as AsyncClient<PortalClient>;
  return { client, sent };
}

describe('berthctl request ids (retrySafe)', () => {
  it('gives each mutating call of a run an id and retries it with the same id when the manager was unreachable', async () => {
    const { client, sent } = fakePortal({ cordonNode: [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED] });
    const c = retrySafe(client, 'run-1', { backoffMs: 1 });
    await c.cordonNode({ name: 'a', requestId: '' });
    await c.drainNode({ name: 'a', requestId: '' });
    await c.listNodes({ pageSize: 0, pageToken: '' });
    expect(sent).toEqual([
      ['cordonNode', { name: 'a', requestId: 'run-1' }],
      ['cordonNode', { name: 'a', requestId: 'run-1' }],
      ['cordonNode', { name: 'a', requestId: 'run-1' }],
      ['drainNode', { name: 'a', requestId: 'run-1.2' }],
      ['listNodes', { pageSize: 0, pageToken: '' }],
    ]);
  });

  it('keeps an id the command chose, gives up after its attempts, and never retries a refusal', async () => {
    const { client, sent } = fakePortal({ deleteInstance: [grpc.status.INVALID_ARGUMENT], resizeInstance: Array(9).fill(grpc.status.UNAVAILABLE) });
    const c = retrySafe(client, undefined, { backoffMs: 1, attempts: 3 });
    await expect(c.deleteInstance({ instance: 'x', force: false, requestId: 'mine' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(c.resizeInstance({ instance: 'x', requestId: '' } as never)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(sent.map(([m, a]) => `${m} ${a.requestId}`).slice(0, 1)).toEqual(['deleteInstance mine']);
    const ids = sent.slice(1).map(([, a]) => a.requestId);
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}\.2$/);
  });
});

describe('which calls take a request id', () => {
  it('every portal change, read from the protos, and no read', () => {
    const m = portalMutatingMethods();
    for (const name of ['createInstance', 'deleteCluster', 'retryOperation', 'createBackup', 'deleteBackup', 'restoreBackup', 'revokeCertificate', 'switchover']) expect(m.has(name), name).toBe(true);
    for (const name of ['getCluster', 'getOperation', 'getClusterEndpoints', 'listInstances', 'watchEvents']) expect(m.has(name), name).toBe(false);
  });
});
