import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TestCluster } from './harness/cluster';
import { FLAVORS, flavorArgs, waitOp } from './harness/flavors';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };

// With real agents and a real MariaDB or MySQL: a constraint decides the host the container runs
// on, and plan shows both nodes' verdicts.
describe.each(FLAVORS.map((f, i) => ({ ...f, ports: 3501 + i * 300 })))('scheduler with real agents ($flavor)', (f) => {
  const cluster = new TestCluster(['--node-timeout', '5', ...flavorArgs(f)]);
  const zbFirst = f.ports + 50;

  beforeAll(async () => {
    await cluster.start([
      { name: 'za', host: '127.0.0.1', ports: `${f.ports}-${zbFirst - 1}`, labels: { zone: 'a', rack: 'r1' } },
      { name: 'zb', host: '127.0.0.2', ports: `${zbFirst}-${zbFirst + 49}`, labels: { zone: 'b', rack: 'r2' } },
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
    // The lowest free port of zone b's range.
    expect(plan.placement).toMatchObject({ node: cluster.nodeName('zb'), host: '127.0.0.2', port: zbFirst });

    const { stdout } = await promisify(execFile)(process.execPath, [
      path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'instance', 'plan', '--cpu', '500m', '--memory', '512M', '--disk', '1G', '--constraint', 'zone=b',
    ]);
    expect(stdout).toMatch(new RegExp(`${cluster.nodeName('za')}\\s+rejected by labels\\s+constraint zone=b not met`));
    expect(stdout).toMatch(new RegExp(`${cluster.nodeName('zb')} \\*\\s+fits`));

    const res = await cluster.portal.createInstance({ name: 'zoned', resources: shape, constraints: ['zone=b'], cluster: 'zc', flavor: f.flavor });
    expect(res.instance).toMatchObject({ node: cluster.nodeName('zb'), port: zbFirst, cluster: 'zc', image: f.image });
    await waitOp(cluster, res.operation!.id);
    const containers = await cluster.containers();
    expect(containers.map((c) => c.Labels['berth.node'])).toEqual([cluster.nodeName('zb')]);
    const c = res.credentials!;
    expect(c.host).toBe('127.0.0.2');
    const conn = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password });
    const [[row]] = (await conn.query('SELECT @@port AS port, @@bind_address AS bind')) as unknown as [[{ port: number; bind: string }]];
    expect(row).toEqual({ port: zbFirst, bind: '127.0.0.2' });
    await conn.end();

    // A second member of its cluster cannot join it on that host; zone=b has no other.
    const again = await cluster.portal.planInstance({ resources: shape, constraints: ['zone=b'], cluster: 'zc' });
    expect(again.message).toBe('0/2 nodes can take it: 1 cluster member already on host, 1 constraint zone=b not met');
  });
});
