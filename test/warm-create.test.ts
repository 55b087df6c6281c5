import fs from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateInstanceResponse__Output } from '../src/gen/berth/v1/CreateInstanceResponse';
import { templateRoot, WARM_MARKER } from '../agent/instance/template';
import { docker, TestCluster, waitUntil } from './harness/cluster';
import { FLAVORS, flavorArgs, waitOp } from './harness/flavors';

const M = 1024 ** 2;
const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };

interface Identity {
  serverId: number;
  uuid: string;
  gtid: string;
}

// Warm create (agent --templates on): the first create on an (image, disk) initializes and
// leaves a template behind; later ones copy it. A copied instance must be indistinguishable
// from an initialized one, and share nothing with its siblings.
describe.each(FLAVORS.map((f, i) => ({ ...f, host: `127.0.0.${41 + i}`, ports: 4301 + i * 50 })))('warm create from a data directory template ($flavor)', (f) => {
  const cluster = new TestCluster(flavorArgs(f));
  let disk = '';
  let template = '';
  const made: Record<string, CreateInstanceResponse__Output> = {};

  const create = async (name: string) => {
    const r = await cluster.portal.createInstance({ name, resources: shape });
    await waitOp(cluster, r.operation!.id);
    made[name] = r;
    return r;
  };
  const root = (name: string) => path.join(disk, 'berth', made[name]!.instance!.id);
  const warm = (name: string) => fs.existsSync(path.join(root(name), WARM_MARKER));
  const connect = (c: CreateInstanceResponse__Output, password = c.credentials!.password) =>
    mysql.createConnection({ host: c.credentials!.host, port: c.credentials!.port, user: c.credentials!.user, password });
  const identity = async (name: string): Promise<Identity> => {
    const conn = await connect(made[name]!);
    try {
      const cols = f.flavor === 'mysql' ? "@@server_uuid AS uuid, CONCAT(@@gtid_executed, '/', @@gtid_purged) AS gtid" : "'' AS uuid, CONCAT(@@gtid_binlog_pos, '/', @@gtid_slave_pos) AS gtid";
      const [[row]] = (await conn.query(`SELECT @@server_id AS serverId, ${cols}`)) as unknown as [[Identity]];
      return { serverId: Number(row.serverId), uuid: String(row.uuid), gtid: String(row.gtid).replace(/\s/g, '') };
    } finally {
      await conn.end();
    }
  };
  // The GTID set with this server's own id written as X: equal sets mean the same history.
  const ownHistory = (i: Identity) => (f.flavor === 'mysql' ? i.gtid.split(i.uuid).join('X') : i.gtid.replace(new RegExp(`^0-${i.serverId}-`), '0-X-'));
  const owners = (name: string) => ['data', 'data/mysql', 'log', 'tmp', 'run'].map((d) => {
    const s = fs.statSync(path.join(root(name), d));
    return `${d}:${s.uid}:${s.gid}`;
  });

  beforeAll(async () => {
    await cluster.start([{ name: 'a', host: f.host, ports: `${f.ports}-${f.ports + 9}`, cpus: '16', args: ['--templates', 'on'] }]);
    disk = cluster.agents[0]!.disks[0]!;
    template = templateRoot(disk, (await docker.getImage(f.image).inspect()).Id);
    await create('cold');
    // The template is built in the background once the first create is done.
    await waitUntil('the template', async () => fs.existsSync(path.join(template, 'template.json')), 180_000, 500);
    await create('warm1');
    await create('warm2');
  }, 600_000);

  afterAll(async () => {
    await cluster.stop();
  });

  it('the first create initializes, later ones copy the template', () => {
    expect(warm('cold')).toBe(false);
    expect([warm('warm1'), warm('warm2')]).toEqual([true, true]);
    // The template keeps no identity of its own.
    expect(fs.readdirSync(path.join(template, 'data')).filter((e) => /^(auto\.cnf|.*\.pem|binlog\..*)$/.test(e))).toEqual([]);
  });

  it('a copied instance has its own server id, UUID and GTID history, the same as an initialized one', async () => {
    const [cold, w1, w2] = await Promise.all(['cold', 'warm1', 'warm2'].map(identity));
    expect(new Set([cold!.serverId, w1!.serverId, w2!.serverId]).size).toBe(3);
    if (f.flavor === 'mysql') expect(new Set([cold!.uuid, w1!.uuid, w2!.uuid]).size).toBe(3);
    // Only the instance's own transactions (the admin user's set-up), nothing purged, nothing
    // from the template's server. On MariaDB exactly the initialized one's history; on MySQL the
    // initializer's own statements (auth_socket, root locked to the socket) are a transaction of
    // an initialized server but part of the template, so a copy has that one transaction fewer.
    for (const w of [w1!, w2!]) expect(ownHistory(w)).toMatch(f.flavor === 'mysql' ? /^X:1-\d+\/$/ : /^0-X-\d+\/$/);
    if (f.flavor === 'mysql') for (const w of [w1!, w2!]) expect(Number(/-(\d+)\//.exec(ownHistory(w))![1])).toBe(Number(/-(\d+)\//.exec(ownHistory(cold!))![1]) - 1);
    else for (const w of [w1!, w2!]) expect(ownHistory(w)).toBe(ownHistory(cold!));
  });

  it("the admin user logs in with its own password only, and the files belong to the image's mysql user as after an initialization", async () => {
    const c = await connect(made.warm1!);
    await c.query('CREATE DATABASE app');
    await c.end();
    await expect(connect(made.warm1!, made.warm2!.credentials!.password)).rejects.toThrow(/Access denied/);
    await expect(connect(made.warm2!, made.cold!.credentials!.password)).rejects.toThrow(/Access denied/);
    const other = await connect(made.warm2!);
    const [dbs] = await other.query("SHOW DATABASES LIKE 'app'");
    expect(dbs).toEqual([]);
    await other.end();
    expect(owners('warm1')).toEqual(owners('cold'));
    expect(owners('warm2')).toEqual(owners('cold'));
    // Key pairs mysqld made for itself are never shared between copies.
    const pems = (name: string) => fs.readdirSync(path.join(root(name), 'data')).filter((e) => e.endsWith('.pem'));
    for (const p of pems('warm1').filter((p) => pems('warm2').includes(p))) {
      expect(fs.readFileSync(path.join(root('warm1'), 'data', p))).not.toEqual(fs.readFileSync(path.join(root('warm2'), 'data', p)));
    }
  });

  it('a missing template is made again after the next create, which initializes', async () => {
    fs.rmSync(template, { recursive: true, force: true });
    await create('again');
    expect(warm('again')).toBe(false);
    await waitUntil('the template again', async () => fs.existsSync(path.join(template, 'template.json')), 180_000, 500);
    await create('warm3');
    expect(warm('warm3')).toBe(true);
    const [w3, w2] = await Promise.all([identity('warm3'), identity('warm2')]);
    expect(ownHistory(w3)).toBe(ownHistory(w2));
  }, 600_000);
});
