import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster, waitUntil } from './harness/cluster';
import { expectOp } from './harness/ops';

const M = 1024 ** 2;
const G = 1024 ** 3;

// Operations are recorded step by step in SQLite: a manager killed mid-way picks up where it
// was, and the agent's idempotent calls make the replay safe.
describe('operations survive a manager crash', () => {
  const cluster = new TestCluster();

  beforeAll(async () => {
    await cluster.start([{ name: 'a', host: '127.0.0.1', ports: '3451-3460' }]);
  });
  afterAll(() => cluster.stop());

  it('kill -9 of the manager during create-container: after restart the create finishes, once', async () => {
    const res = await cluster.portal.createInstance({ name: 'resumed', resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: G } });
    await waitUntil(
      'create-container to start',
      async () => (await cluster.portal.getOperation({ id: res.operation!.id })).steps[0]!.state === 'running',
      30_000,
      20,
    );
    await cluster.restartManager();

    const op = await expectOp(cluster, res.operation!.id, 'succeeded');
    expect(op.steps.map((s) => [s.name, s.state])).toEqual([
      ['create-container', 'done'],
      ['verify-running', 'done'],
    ]);
    expect(cluster.logs()).toMatch(new RegExp(`"op":"${res.operation!.id}".*"msg":"resuming operation"`));
    const inst = await cluster.portal.getInstance({ instance: 'resumed' });
    expect(inst.state).toBe('running');
    // One mysqld container, labelled for this instance; no init container left over.
    expect((await cluster.containers()).map((c) => [c.Labels['berth.role'], c.Labels['berth.instance'], c.State])).toEqual([['mysqld', res.instance!.id, 'running']]);

    const cred = res.credentials!;
    const conn = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
    const [rows] = await conn.query('SELECT 1 AS ok');
    expect(rows).toEqual([{ ok: 1 }]);
    await conn.end();
  });
});
