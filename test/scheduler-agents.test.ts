import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TestCluster } from './harness/cluster';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };

// With real agents and a real MariaDB: a constraint decides the host the container runs on, and
// plan shows both nodes' verdicts.
describe('scheduler with real agents', () => {
  const cluster = new TestCluster(['--node-timeout', '5']);

  beforeAll(async () => {
    await cluster.start([
      { name: 'za', host: '127.0.0.1', ports: '3501-3549', labels: { zone: 'a', rack: 'r1' } },
      { name: 'zb', host: '127.0.0.2', ports: '3550-3599', labels: { zone: 'b', rack: 'r2' } },
    ]);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('plan shows both verdicts; a zone=b instance runs on the zone-b agent and serves SQL', async () => {
    const plan = await cluster.portal.planInstance({ resources: shape, constraints: ['zone=b'] });
    const byNode = Object.fromEntries(plan.verdicts.map((v) => [v.node, v]));
    expect(byNode[cluster.nodeName('za')]).toMatchObject({ fits: false, filter: 'labels', reason: 'constraint zone=b not met', chosen: false });
    expect(byNode[cluster.nodeName('zb')]).toMatchObject({ fits: true, chosen: true });
    expect(plan.placement).toMatchObject({ node: cluster.nodeName('zb'), host: '127.0.0.2' });
    expect(plan.placement!.port).toBeGreaterThanOrEqual(3550);

    const { stdout } = await promisify(execFile)(process.execPath, [
      path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'instance', 'plan', '--cpu', '500m', '--memory', '512M', '--disk', '1G', '--constraint', 'zone=b',
    ]);
    expect(stdout).toMatch(new RegExp(`${cluster.nodeName('za')}\\s+rejected by labels\\s+constraint zone=b not met`));
    expect(stdout).toMatch(new RegExp(`${cluster.nodeName('zb')} \\*\\s+fits`));

    const res = await cluster.portal.createInstance({ name: 'zoned', resources: shape, constraints: ['zone=b'], cluster: 'zc' });
    expect(res.instance).toMatchObject({ node: cluster.nodeName('zb'), port: plan.placement!.port, cluster: 'zc' });
    const op = await cluster.portal.waitOperation({ id: res.operation!.id, timeoutMs: 150_000 }, 160_000);
    expect(op.state, `${op.error}\n${cluster.logs()}`).toBe('succeeded');
    const containers = await cluster.containers();
    expect(containers.map((c) => c.Labels['berth.node'])).toEqual([cluster.nodeName('zb')]);
    const c = res.credentials!;
    expect(c.host).toBe('127.0.0.2');
    const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password });
    const [[row]] = (await conn.query('SELECT @@port AS port')) as unknown as [[{ port: number }]];
    expect(row.port).toBe(c.port);
    await conn.end();

    // A second member of its cluster cannot join it on that host; zone=b has no other.
    const again = await cluster.portal.planInstance({ resources: shape, constraints: ['zone=b'], cluster: 'zc' });
    expect(again.message).toBe('0/2 nodes can take it: 1 cluster member already on host, 1 constraint zone=b not met');
  });
});
