import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readState } from '../agent/replication-state';
import { TestCluster } from './harness/cluster';
import { FLAVORS, flavorArgs } from './harness/flavors';
import { probeMysqld } from '../manager/health/probe';
import path from 'node:path';
import { connectSocket } from '../src/mysql/connect';
import { dialectFor } from '../src/mysql/dialect';

describe.each(FLAVORS)('tmp $flavor', (f) => {
  let c: TestCluster;
  beforeAll(async () => {
    c = new TestCluster(flavorArgs(f));
    await c.start([{ name: 'a', host: '127.0.0.21', ports: '4101-4110', cpus: '4', memory: '4G' }]);
  }, 60_000);
  afterAll(async () => c?.stop());
  it('reads', async () => {
    const r = await c.portal.createInstance({ name: 'x1', resources: { cpuMillis: 500, memoryBytes: 512 * 1024 ** 2, diskBytes: 1024 ** 3 } });
    const op = await c.portal.waitOperation({ id: r.operation!.id, timeoutMs: 120_000 }, 130_000);
    expect(op.state).toBe('succeeded');
    const i = await c.portal.getInstance({ instance: 'x1' });
    const st = await readState({ id: i.id, diskPath: i.diskPath, flavor: f.flavor } as never);
    console.log(JSON.stringify(st));
    console.log(JSON.stringify(await probeMysqld(i.host, i.port, 1000)), JSON.stringify(await probeMysqld(i.host, i.port + 1, 1000)));
    const d = dialectFor(f.flavor);
    const conn = await connectSocket(path.join(i.diskPath, 'berth', i.id, 'run', 'mysqld.sock'));
    if (f.flavor === 'mysql') await conn.query("INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so'").catch((e) => console.log('plugin', e.message));
    await conn.query(`SET GLOBAL rpl_semi_sync_${f.flavor === 'mysql' ? 'source' : 'master'}_enabled = ON`);
    for (const st of [...d.configureReplica({ host: '127.0.0.21', port: 4199, user: 'x', password: 'y' }), ...d.replicaLossDetection(4)]) await conn.query(st.sql, st.params);
    const st2 = await readState({ id: i.id, diskPath: i.diskPath, flavor: f.flavor } as never);
    console.log(JSON.stringify(st2));
    expect(st2.semiSyncEnabled).toBe(true);
    expect(st2.configured).toBe(true);
    for (const st of d.resetReplica()) await conn.query(st.sql, st.params);
    await conn.end();
  }, 150_000);
});
