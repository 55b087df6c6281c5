import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateInstanceResponse__Output } from '../src/gen/berth/v1/CreateInstanceResponse';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';
import { configWarnings, expectStatus, FLAVORS, flavorArgs, waitOp } from './harness/flavors';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };
const run = promisify(execFile);

// Every test here runs once per flavor, against a cluster of its own whose default image is that
// flavor's. Ports differ per flavor so a leftover of one can never answer for the other.
describe.each(FLAVORS.map((f, i) => ({ ...f, ports: 3401 + i * 300 })))('instances on two real agents ($flavor)', (f) => {
  const cluster = new TestCluster(['--node-timeout', '3', ...flavorArgs(f)]);
  const base: CreateInstanceResponse__Output[] = [];
  const nodeA = () => cluster.nodeName('a');
  const nodeB = () => cluster.nodeName('b');
  const connect = (c: CreateInstanceResponse__Output) => {
    const cred = c.credentials!;
    return mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password });
  };

  // Three instances spread over both nodes, each with one row of its own, shared read-only by
  // the tests below; a test that changes instances makes its own.
  beforeAll(async () => {
    await cluster.start([
      { name: 'a', host: '127.0.0.1', ports: `${f.ports}-${f.ports + 9}`, labels: { zone: 'a' } },
      { name: 'b', host: '127.0.0.2', ports: `${f.ports + 10}-${f.ports + 19}`, labels: { zone: 'b' } },
    ]);
    base.push(await cluster.portal.createInstance({ name: 'alpha', resources: shape }));
    // The per-request flavor picks the same image the default does here.
    base.push(await cluster.portal.createInstance({ name: 'bravo', resources: shape, flavor: f.flavor }));
    base.push(await cluster.portal.createInstance({ name: 'charlie', resources: shape }));
    await Promise.all(base.map((c) => waitOp(cluster, c.operation!.id)));
    for (const c of base) {
      const conn = await connect(c);
      await conn.query('CREATE DATABASE app');
      await conn.query('CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))');
      await conn.query('INSERT INTO app.t VALUES (1, ?)', [c.instance!.name]);
      await conn.end();
    }
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('spreads three instances over both nodes; each serves SQL with the returned credentials and the shape reached mysqld', async () => {
    const op = await cluster.portal.getOperation({ id: base[0]!.operation!.id });
    expect(op.steps.map((s) => [s.name, s.state])).toEqual([
      ['create-container', 'done'],
      ['verify-running', 'done'],
    ]);
    expect(new Set(base.map((c) => c.instance!.node))).toEqual(new Set([nodeA(), nodeB()]));

    for (const c of base) {
      const got = await cluster.portal.getInstance({ instance: c.instance!.id });
      expect(got).toMatchObject({ state: 'running', image: f.image, flavor: f.flavor });
      expect(got.version).toMatch(f.version);
      expect(c.credentials!.password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const conn = await connect(c);
      const [rows] = await conn.query('SELECT v FROM app.t WHERE id = 1');
      expect(rows).toEqual([{ v: c.instance!.name }]);
      const gtid = f.flavor === 'mysql' ? "@@gtid_mode = 'ON'" : '@@gtid_strict_mode';
      const [[vars]] = (await conn.query(`SELECT @@innodb_buffer_pool_size AS pool, @@port AS port, @@log_bin AS binlog, ${gtid} AS gtid`)) as unknown as [
        [{ pool: number; port: number; binlog: number; gtid: number }],
      ];
      // 512M: half of it for MariaDB; MySQL 9.7 keeps 320M beside its pool (performance_schema,
      // TempTable), so 192M.
      expect(vars).toEqual({ pool: (f.flavor === 'mysql' ? 192 : 256) * M, port: c.instance!.port, binlog: 1, gtid: 1 });
      await conn.end();
      // mysqld started without a word about a removed or deprecated option.
      expect(configWarnings(c.instance!.diskPath, c.instance!.id)).toEqual([]);
    }

    // Docker holds the limits the manager asked for, and the berth labels.
    expect(await cluster.containers()).toHaveLength(3);
    for (const c of base) {
      const info = await docker.getContainer((await cluster.portal.getInstance({ instance: c.instance!.id })).containerId).inspect();
      expect(info.HostConfig.NanoCpus).toBe(500_000_000);
      expect(info.HostConfig.Memory).toBe(512 * M);
      expect(info.HostConfig.MemorySwap).toBe(512 * M);
      expect(info.HostConfig.NetworkMode).toBe('host');
      expect(info.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(info.Config.Labels['berth.instance']).toBe(c.instance!.id);
      // Labels keep only what never changes; the flavor is in the agent's desired-state record.
      expect(info.Config.Labels['berth.flavor']).toBeUndefined();
      const record = JSON.parse(fs.readFileSync(path.join(c.instance!.diskPath, 'berth', c.instance!.id, 'instance.json'), 'utf8')) as { flavor: string };
      expect(record.flavor).toBe(f.flavor);
      expect((await cluster.portal.getInstance({ instance: c.instance!.id })).flavor).toBe(f.flavor);
    }
    const { nodes } = await cluster.portal.listNodes({});
    expect(nodes.reduce((a, n) => a + n.allocated!.memoryBytes, 0)).toBe(3 * 512 * M);
  });

  it('keeps root to the socket: root over TCP with no password is refused', async () => {
    const c = base[0]!.credentials!;
    await expect(mysql.createConnection({ host: c.host, port: c.port, user: 'root', password: '', connectTimeout: 5000 })).rejects.toThrow(/Access denied/);
    const conn = await connect(base[0]!);
    const [users] = await conn.query("SELECT User AS user, Host AS host FROM mysql.user WHERE User IN ('root', '') OR Host NOT IN ('localhost', '%')");
    // One root, on localhost only, authenticated by the socket peer; no anonymous users, no root@%.
    expect(users).toEqual([{ user: 'root', host: 'localhost' }]);
    const [[create]] = (await conn.query("SHOW CREATE USER 'root'@'localhost'")) as unknown as [[Record<string, string>]];
    const spec = Object.values(create)[0]!;
    if (f.flavor === 'mysql') expect(spec).toMatch(/^CREATE USER `root`@`localhost` IDENTIFIED WITH 'auth_socket'/);
    else expect(spec).toMatch(/^CREATE USER `root`@`localhost` IDENTIFIED VIA mysql_native_password USING 'invalid' OR unix_socket/);
    await conn.end();
  });

  // MySQL only (registered only for it, so the MariaDB run shows no skipped test).
  if (f.flavor === 'mysql') it('MySQL: the admin user is caching_sha2_password and works from mysql2 over TLS, the Oracle and the MariaDB CLI', async () => {
    const c = base[1]!;
    const cred = c.credentials!;
    const conn = await connect(c);
    const [[u]] = (await conn.query("SELECT plugin FROM mysql.user WHERE user = ? AND host = '%'", [cred.user])) as unknown as [[{ plugin: string }]];
    expect(u.plugin).toBe('caching_sha2_password');
    await conn.end();

    // TLS with the certificate authority mysqld generated at initialization, verified.
    const ca = fs.readFileSync(path.join(c.instance!.diskPath, 'berth', c.instance!.id, 'data', 'ca.pem'));
    // The auto-generated server certificate names no host: verify the chain, not the name.
    // (mysql2 passes ssl options to tls.connect; its SslOptions type lacks checkServerIdentity.)
    const ssl = { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined } as mysql.SslOptions;
    const tls = await mysql.createConnection({ host: cred.host, port: cred.port, user: cred.user, password: cred.password, ssl });
    const [[cipher]] = (await tls.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")) as unknown as [[{ Value: string }]];
    expect(cipher.Value).toMatch(/^TLS_|^ECDHE|^DHE|AES/);
    await tls.end();

    const sql = 'SELECT CURRENT_USER(), @@port';
    const env = { ...process.env, MYSQL_PWD: cred.password };
    // The host's MariaDB client, over TCP with no TLS (RSA key exchange for caching_sha2).
    const maria = await run('mariadb', ['-h', cred.host, '-P', String(cred.port), '-u', cred.user, '--batch', '--skip-column-names', '-e', sql], { env });
    expect(maria.stdout.trim()).toBe(`admin@%\t${cred.port}`);
    // Oracle's client from the image, verifying the server against the generated CA.
    const dataDir = path.join(c.instance!.diskPath, 'berth', c.instance!.id, 'data');
    const oracle = await run('docker', [
      'run', '--rm', '--network', 'host', '-e', 'MYSQL_PWD', '-v', `${dataDir}/ca.pem:/ca.pem:ro`, f.image,
      'mysql', '-h', cred.host, '-P', String(cred.port), '-u', cred.user, '--ssl-mode=VERIFY_CA', '--ssl-ca=/ca.pem', '--batch', '--skip-column-names', '-e', `${sql}, @@ssl_ca IS NOT NULL`,
    ], { env });
    expect(oracle.stdout.trim()).toBe(`admin@%\t${cred.port}\t1`);
  });

  it('never writes a generated password to the manager or agent logs', () => {
    const logs = fs
      .readdirSync(cluster.dir)
      .filter((name) => name.endsWith('.log'))
      .map((name) => fs.readFileSync(path.join(cluster.dir, name), 'utf8'))
      .join('\n');
    // The processes run at debug level here, and the logs did record the creates.
    expect(logs.match(/instance running/g)?.length).toBeGreaterThanOrEqual(3);
    for (const c of base) expect(logs).not.toContain(c.credentials!.password);
  });

  it('deletes one: container, files and port are gone, its resources are free, and the port is handed out again with a fresh data directory', async () => {
    const made = await cluster.portal.createInstance({ name: 'delta', resources: shape, node: nodeA() });
    await waitOp(cluster, made.operation!.id);
    const victim = made.instance!;
    const conn0 = await connect(made);
    await conn0.query('CREATE DATABASE app');
    await conn0.end();
    const before = (await cluster.portal.listNodes({})).nodes.find((n) => n.name === victim.node)!;
    const dir = path.join(victim.diskPath, 'berth', victim.id);
    expect(fs.existsSync(path.join(dir, 'data', 'mysql'))).toBe(true);

    const op = await cluster.portal.deleteInstance({ instance: victim.name });
    await waitOp(cluster, op.id);

    await expectStatus(cluster.portal.getInstance({ instance: victim.id }), grpc.status.NOT_FOUND);
    expect((await cluster.containers()).map((c) => c.Labels['berth.instance'])).not.toContain(victim.id);
    expect(fs.existsSync(dir)).toBe(false);
    const after = (await cluster.portal.listNodes({})).nodes.find((n) => n.name === victim.node)!;
    expect(after.allocated).toEqual({
      cpuMillis: before.allocated!.cpuMillis - shape.cpuMillis,
      memoryBytes: before.allocated!.memoryBytes - shape.memoryBytes,
      diskBytes: before.allocated!.diskBytes - shape.diskBytes,
    });
    expect(after.instanceCount).toBe(before.instanceCount - 1);
    // Nothing listens on the port any more, and the scheduler hands it out again.
    await expect(mysql.createConnection({ host: victim.host, port: victim.port, user: 'x', connectTimeout: 1000 })).rejects.toThrow(/ECONNREFUSED/);
    const again = await cluster.portal.createInstance({ name: 'echo', resources: shape, node: victim.node });
    expect(again.instance!.port).toBe(victim.port);
    await waitOp(cluster, again.operation!.id);
    const conn = await connect(again);
    const [dbs] = await conn.query("SHOW DATABASES LIKE 'app'");
    expect(dbs).toEqual([]);
    await conn.end();
    await waitOp(cluster, (await cluster.portal.deleteInstance({ instance: 'echo' })).id);
  });

  it('survives kill -9 of an agent: instances come back running, no duplicates, no foreign container touched', async () => {
    const agent = cluster.agents[1]!;
    const mine = (await cluster.portal.listInstances({ node: agent.node })).instances;
    const mineBase = base.filter((c) => c.instance!.node === agent.node);
    expect(mine.map((i) => i.id).sort()).toEqual(mineBase.map((c) => c.instance!.id).sort());
    // Containers that are not this agent's: one with no berth labels, one owned by another node.
    const foreign = await docker.createContainer({ Image: f.image, Cmd: ['sleep', '600'], Labels: { 'berth.test': cluster.id }, HostConfig: { NetworkMode: 'none' } });
    const other = await docker.createContainer({
      Image: f.image,
      Cmd: ['sleep', '600'],
      Labels: { 'berth.managed': 'true', 'berth.node': `someone-else-${cluster.id}`, 'berth.role': 'init', 'berth.instance': 'i-000000000000' },
      HostConfig: { NetworkMode: 'none' },
    });
    try {
      await foreign.start();
      await other.start();
      const beforeIds = (await cluster.containers()).map((c) => c.Id).sort();

      await cluster.killAgent(agent, 'SIGKILL');
      // The manager notices the silence and stops vouching for the instances' state.
      await waitUntil('node down', async () => (await cluster.portal.listNodes({})).nodes.find((n) => n.name === agent.node)?.state === 'down', 20_000);
      expect((await cluster.portal.getInstance({ instance: mine[0]!.id })).state).toBe('unknown');

      cluster.startAgent(agent);
      await cluster.waitForNodes();
      const back = await waitUntil(
        'instances running again',
        async () => {
          const list = (await cluster.portal.listInstances({ node: agent.node })).instances;
          return list.every((i) => i.state === 'running') && list;
        },
        20_000,
      );
      expect(back.map((i) => [i.id, i.containerId]).sort()).toEqual(mine.map((i) => [i.id, i.containerId]).sort());
      expect((await cluster.containers()).map((c) => c.Id).sort()).toEqual(beforeIds);
      for (const c of [foreign, other]) expect((await c.inspect()).State.Running).toBe(true);
      // Still serving SQL through it all.
      for (const c of mineBase) {
        const conn = await connect(c);
        const [rows] = await conn.query('SELECT v FROM app.t');
        expect(rows).toEqual([{ v: c.instance!.name }]);
        await conn.end();
      }
    } finally {
      await foreign.remove({ force: true });
      await other.remove({ force: true });
    }
  });

  describe('bad input changes nothing', () => {
    async function state() {
      const { instances } = await cluster.portal.listInstances({});
      const { nodes } = await cluster.portal.listNodes({});
      const dirs = cluster.agents.flatMap((a) => a.disks.flatMap((d) => (fs.existsSync(path.join(d, 'berth')) ? fs.readdirSync(path.join(d, 'berth')) : [])));
      return {
        instances: instances.map((i) => i.id).sort(),
        containers: (await cluster.containers()).map((c) => c.Id).sort(),
        dirs: dirs.sort(),
        allocated: nodes.map((n) => [n.name, n.allocated, n.instanceCount]),
      };
    }

    it.each([
      ['memory 0', { name: 'bad1', resources: { ...shape, memoryBytes: 0 } }, grpc.status.INVALID_ARGUMENT, /memory/],
      ['negative CPU', { name: 'bad2', resources: { ...shape, cpuMillis: -1000 } }, grpc.status.INVALID_ARGUMENT, /cpu/],
      ['unknown node', { name: 'bad3', resources: shape, node: 'no-such-node' }, grpc.status.INVALID_ARGUMENT, /no-such-node is not registered/],
      ['a name with spaces', { name: 'has space', resources: shape }, grpc.status.INVALID_ARGUMENT, /instance name/],
      ['a 200-character name', { name: 'x'.repeat(200), resources: shape }, grpc.status.INVALID_ARGUMENT, /instance name/],
      ['a disk larger than any node has', { name: 'bad6', resources: { ...shape, diskBytes: 1024 ** 5 } }, grpc.status.RESOURCE_EXHAUSTED, /^0\/2 nodes can take it: 2 no data disk/],
      ['no resources at all', { name: 'bad7' }, grpc.status.INVALID_ARGUMENT, /resources are required/],
      ['a bad image reference', { name: 'bad8', resources: shape, image: 'Bad Image!' }, grpc.status.INVALID_ARGUMENT, /image/],
      ['an unknown flavor', { name: 'bad9', resources: shape, flavor: 'postgres' }, grpc.status.INVALID_ARGUMENT, /unknown flavor "postgres": use mysql or mariadb/],
      ['both an image and a flavor', { name: 'bad10', resources: shape, flavor: 'mysql', image: 'berth/mysql:9.7' }, grpc.status.INVALID_ARGUMENT, /image or a flavor, not both/],
      // The same name with the same shape is a retry and returns the instance (test/paging.test.ts).
      ['a name already taken, with another shape', { name: 'bravo', resources: { ...shape, cpuMillis: 600 } }, grpc.status.ALREADY_EXISTS, /an instance named bravo already exists/],
    ])('%s', async (_what, req, code, msg) => {
      const before = await state();
      await expectStatus(cluster.portal.createInstance(req), code, msg);
      expect(await state()).toEqual(before);
    });

    it('a create that fails on the node (an image that is not there) is rolled back: no row, no container, no files, no port', async () => {
      const before = await state();
      const res = await cluster.portal.createInstance({ name: 'ghost', resources: shape, image: `berth/no-such-${f.flavor}:1` });
      const op = await waitOp(cluster, res.operation!.id, 'failed');
      expect(op.error).toMatch(new RegExp(`image berth/no-such-${f.flavor}:1 is not on this host`));
      expect(op.steps.map((s) => s.state)).toEqual(['failed', 'pending']);
      await expectStatus(cluster.portal.getInstance({ instance: res.instance!.id }), grpc.status.NOT_FOUND);
      expect(await state()).toEqual(before);
    });

    it('berthctl refuses bad values before calling the manager', async () => {
      const ctl = (...args: string[]) =>
        run(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, 'instance', 'create', '--name', 'x', '--memory', '1G', '--disk', '1G', ...args]).catch(
          (e: { stderr: string; code: number }) => e,
        );
      const cpu = (await ctl('--cpu', '-1')) as { stderr: string; code: number };
      expect([cpu.code, cpu.stderr]).toEqual([1, expect.stringMatching(/invalid CPU/)]);
      const flavor = (await ctl('--cpu', '1', '--flavor', 'postgres')) as { stderr: string; code: number };
      expect([flavor.code, flavor.stderr]).toEqual([1, expect.stringMatching(/Allowed choices are mysql, mariadb/)]);
      expect(await state()).toMatchObject({ instances: base.map((c) => c.instance!.id).sort() });
    });
  });

  it('cordon keeps new instances off a node; uncordon opens it again', async () => {
    expect((await cluster.portal.cordonNode({ name: nodeA() })).cordoned).toBe(true);
    await expectStatus(cluster.portal.createInstance({ name: 'pinned', resources: shape, node: nodeA() }), grpc.status.RESOURCE_EXHAUSTED, /1 node cordoned/);
    expect((await cluster.portal.uncordonNode({ name: nodeA() })).cordoned).toBe(false);
    await expectStatus(cluster.portal.cordonNode({ name: 'nope' }), grpc.status.NOT_FOUND);
  });
});
