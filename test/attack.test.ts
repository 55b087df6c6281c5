import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentProto, portalProto } from '../src/proto';
import { asyncClient, CHANNEL_OPTIONS } from '../src/rpc';
import { initCa, issueCert } from '../src/tls/ca';
import { channelCredentials, filesIn, type TlsFiles } from '../src/tls/credentials';
import { GrantSigner } from '../src/tls/grant';
import type { RegistryClient } from '../src/gen/berth/v1/Registry';
import { docker, TestCluster, waitUntil } from './harness/cluster';

const ADMIN_TOKEN = 'attack-test-admin-token';

// One raw unary call by its service definition: the answer's status code (OK = 0).
function call(client: grpc.Client, def: grpc.MethodDefinition<unknown, unknown>, req: unknown = {}, md = new grpc.Metadata()): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md, { deadline: Date.now() + 5000 }, (err) => resolve(err ?? null));
  });
}

const codeName = (e: grpc.ServiceError | null) => (e ? grpc.status[e.code] : 'OK');

function httpReq(port: number, method: string, url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path: url, headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end(method === 'POST' ? '{}' : undefined);
  });
}

// Plays the attacker against a running fleet with TLS on: a real manager, a real agent and a
// real MariaDB instance; every refused call must leave the instance and its container alone.
describe('attacks on a TLS fleet', () => {
  const cluster = new TestCluster(['--node-timeout', '5', '--admin-token', ADMIN_TOKEN, '--admin-hosts', '127.0.0.1,localhost']);
  const Portal = portalProto().berth.v1.Portal;
  const Agent = agentProto().berth.v1.Agent;
  let instanceId = '';
  let containerId = '';

  beforeAll(async () => {
    await cluster.start([{ name: 'a', host: '127.0.0.1', ports: '3651-3655', cpus: '2', memory: '2G' }]);
    const res = await cluster.portal.createInstance({ name: 'victim', resources: { cpuMillis: 500, memoryBytes: 512 * 2 ** 20, diskBytes: 2 ** 30 } });
    const op = await cluster.portal.waitOperation({ id: res.operation!.id, timeoutMs: 150_000 }, 160_000);
    expect(op.state).toBe('succeeded');
    instanceId = res.instance!.id;
    containerId = (await cluster.portal.getInstance({ instance: instanceId })).containerId;
  });
  afterAll(async () => {
    if (process.env.BERTH_KEEP_LOGS) console.log(cluster.logs());
    await cluster.stop();
  });

  const victimIntact = async () => {
    const i = await cluster.portal.getInstance({ instance: instanceId });
    expect(i.state).toBe('running');
    expect((await cluster.containers()).map((c) => c.Id)).toContain(containerId);
  };

  it('refuses every Portal RPC without a certificate or token, and plaintext entirely', async () => {
    const anon = new Portal(cluster.managerAddress, channelCredentials(filesIn(cluster.tlsDir, 'admin', 'admin'), { kind: 'manager' }, false), CHANNEL_OPTIONS);
    const plain = new Portal(cluster.managerAddress, grpc.credentials.createInsecure());
    const badToken = new grpc.Metadata();
    badToken.set('authorization', 'Bearer berth_not-a-real-token');
    const methods = Object.values(Portal.service) as grpc.MethodDefinition<unknown, unknown>[];
    expect(methods.length).toBeGreaterThanOrEqual(15);
    for (const m of methods) {
      expect([m.path, codeName(await call(anon, m, { instance: instanceId, name: 'victim' }))]).toEqual([m.path, 'UNAUTHENTICATED']);
      expect([m.path, codeName(await call(anon, m, { instance: instanceId }, badToken))]).toEqual([m.path, 'UNAUTHENTICATED']);
      expect([m.path, codeName(await call(plain, m, { instance: instanceId }))]).toEqual([m.path, 'UNAVAILABLE']);
    }
    anon.close();
    plain.close();
    await victimIntact();
  });

  it('a viewer (certificate or token) reads but cannot read credentials, delete or make tokens; an operator cannot read credentials', async () => {
    const viewer = cluster.portalAs('viewer', 'eve');
    expect((await viewer.listInstances({})).instances.map((i) => i.id)).toContain(instanceId);
    for (const p of [viewer.getCredentials({ instance: instanceId }), viewer.deleteInstance({ instance: instanceId }), viewer.createToken({ name: 'mine', role: 'admin' }), viewer.cordonNode({ name: cluster.nodeName('a') })]) {
      await expect(p).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    }
    const { token } = await cluster.portal.createToken({ name: 'eve-token', role: 'viewer' });
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const byToken = cluster.portalAs('none', 'none', md);
    expect((await byToken.listNodes({})).nodes).toHaveLength(1);
    await expect(byToken.getCredentials({ instance: instanceId })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await expect(byToken.deleteInstance({ instance: instanceId })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    const operator = cluster.portalAs('operator', 'olga');
    await expect(operator.getCredentials({ instance: instanceId })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    // A revoked token is refused at once.
    await cluster.portal.revokeToken({ name: 'eve-token' });
    await expect(byToken.listNodes({})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    for (const c of [viewer, byToken, operator]) c.close();
    await victimIntact();
  });

  it('credential reads are audited as events naming who and which instance', async () => {
    const c = await cluster.portal.getCredentials({ instance: instanceId });
    expect(c.password.length).toBeGreaterThan(10);
    const res = await httpReq(cluster.adminPort, 'GET', `/v1/events?kind=credentials.read&subject=${instanceId}`, { authorization: `Bearer ${ADMIN_TOKEN}` });
    const items = (JSON.parse(res.body) as { items: { kind: string; subject: string; message: string; at: string }[] }).items;
    expect(items[0]).toMatchObject({ kind: 'credentials.read', subject: instanceId });
    expect(items[0]!.message).toMatch(/cert:admin read the admin credentials of victim/);
    expect(items[0]!.message).not.toContain(c.password);
  });

  it("a node certificate cannot register or heartbeat as another node, nor move that node's address", async () => {
    const real = cluster.nodeName('a');
    const before = (await cluster.portal.listNodes({})).nodes.find((n) => n.name === real)!;
    const Registry = agentProto().berth.v1.Registry;
    const asEvil = (files: TlsFiles) => asyncClient<RegistryClient>(new Registry(cluster.registryAddress, channelCredentials(files, { kind: 'manager' }), CHANNEL_OPTIONS));
    const evil = asEvil(cluster.certFor('node', cluster.nodeName('evil')));
    const node = { name: real, agentAddress: '127.0.0.9:1', host: '127.0.0.9', labels: {}, cpuMillis: 64000, memoryBytes: 2 ** 40, disks: [{ path: '/x', totalBytes: 2 ** 40, freeBytes: 2 ** 40 }], portMin: 3300, portMax: 3399, agentVersion: 'x', dockerVersion: 'x', busyPorts: [] };
    await expect(evil.register({ node, instances: [] })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    await expect(evil.heartbeat({ node: real, disks: [], instances: [], busyPorts: [] })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    // A portal admin certificate is not a node certificate either.
    const admin = asEvil(filesIn(cluster.tlsDir, 'admin', 'admin'));
    await expect(admin.register({ node, instances: [] })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    // Without a certificate the TLS handshake itself fails.
    const anon = asyncClient<RegistryClient>(new Registry(cluster.registryAddress, channelCredentials(filesIn(cluster.tlsDir, 'admin', 'admin'), { kind: 'manager' }, false), CHANNEL_OPTIONS));
    await expect(anon.register({ node, instances: [] })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    const after = (await cluster.portal.listNodes({})).nodes.find((n) => n.name === real)!;
    expect(after).toMatchObject({ agentAddress: before.agentAddress, host: before.host, state: 'ready' });
    expect((await cluster.portal.listNodes({})).nodes.map((n) => n.name)).not.toContain(cluster.nodeName('evil'));
    for (const c of [evil, admin, anon]) c.close();
  });

  it('a spoofed manager cannot make the agent remove an instance (nor call any agent RPC)', async () => {
    const agentAddr = cluster.agents[0]!.address;
    const methods = Object.values(Agent.service) as grpc.MethodDefinition<unknown, unknown>[];
    // 1. A manager certificate from another CA (the attacker's own): refused at the handshake.
    const rogueDir = path.join(cluster.dir, 'rogue-ca');
    initCa(rogueDir);
    issueCert(rogueDir, 'manager', 'manager');
    const rogue = filesIn(rogueDir, 'manager', 'manager');
    const spoof = new Agent(agentAddr, channelCredentials({ ...rogue, ca: filesIn(cluster.tlsDir, 'manager', 'manager').ca }, { kind: 'node', name: cluster.nodeName('a') }), CHANNEL_OPTIONS);
    // 2. A certificate of the fleet's own CA that is not the manager's (a stolen node or client one).
    const peer = new Agent(agentAddr, channelCredentials(cluster.certFor('node', cluster.nodeName('evil')), { kind: 'node', name: cluster.nodeName('a') }), CHANNEL_OPTIONS);
    // 3. Plaintext.
    const plain = new Agent(agentAddr, grpc.credentials.createInsecure());
    for (const m of methods) {
      expect([m.path, codeName(await call(spoof, m, { id: instanceId }))]).toEqual([m.path, 'UNAVAILABLE']);
      // A node certificate may pull a hot copy (StreamBackup) only with the manager's grant.
      expect([m.path, codeName(await call(peer, m, { id: instanceId }))]).toEqual([m.path, 'PERMISSION_DENIED']);
      expect([m.path, codeName(await call(plain, m, { id: instanceId }))]).toEqual([m.path, 'UNAVAILABLE']);
    }
    // A stolen node certificate with a grant made for someone else: another node, another
    // instance, an expired one, or one signed with a node key instead of the manager's.
    const backup = Agent.service.StreamBackup as grpc.MethodDefinition<unknown, unknown>;
    const managerSigner = new GrantSigner(filesIn(cluster.tlsDir, 'manager', 'manager'));
    const evil = cluster.nodeName('evil');
    const refusals: [string, string][] = [
      [managerSigner.sign(instanceId, cluster.nodeName('b')), `the backup grant is for node ${cluster.nodeName('b')}, not ${evil}`],
      [managerSigner.sign('i-0123456789ab', evil), `the backup grant is for instance i-0123456789ab, not ${instanceId}`],
      [managerSigner.sign(instanceId, evil, Date.now() - 20 * 60_000), 'the backup grant has expired'],
      [new GrantSigner(cluster.certFor('node', evil)).sign(instanceId, evil), 'the backup grant is not signed by the fleet manager'],
      ['', 'no backup grant from the manager'],
    ];
    for (const [grant, why] of refusals) {
      const e = await call(peer, backup, { id: instanceId, grant });
      expect([codeName(e), e?.details]).toEqual(['PERMISSION_DENIED', `StreamBackup from node ${evil} refused: ${why}`]);
    }
    // 4. The real manager's certificate, but a request meant for another node or disk: the agent
    // checks both before touching a file.
    const removeDef = Agent.service.RemoveInstance as grpc.MethodDefinition<unknown, unknown>;
    const manager = new Agent(agentAddr, channelCredentials(filesIn(cluster.tlsDir, 'manager', 'manager'), { kind: 'node', name: cluster.nodeName('a') }), cluster.agentChannelOptions(agentAddr));
    const wrongNode = await call(manager, removeDef, { id: instanceId, node: cluster.nodeName('other'), diskPath: cluster.agents[0]!.disks[0] });
    expect([codeName(wrongNode), wrongNode?.details]).toEqual(['FAILED_PRECONDITION', expect.stringMatching(/nothing removed/)]);
    expect(codeName(await call(manager, removeDef, { id: instanceId, node: cluster.nodeName('a'), diskPath: '/etc' }))).toBe('FAILED_PRECONDITION');
    for (const c of [spoof, peer, plain, manager]) c.close();
    await victimIntact();
    expect(fs.existsSync(path.join(cluster.agents[0]!.disks[0]!))).toBe(true);
  });

  it('runs mysqld with least privilege: capabilities dropped, no new privileges, pids, nofile and log limits', async () => {
    const hc = (await docker.getContainer(containerId).inspect()).HostConfig;
    expect(hc.CapDrop).toEqual(['ALL']);
    expect([...(hc.CapAdd ?? [])].sort()).toEqual(['DAC_OVERRIDE', 'SETGID', 'SETUID']);
    expect(hc.SecurityOpt).toContain('no-new-privileges');
    expect(hc.PidsLimit).toBe(1024);
    expect(hc.LogConfig).toMatchObject({ Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } });
    expect(hc.Ulimits?.find((u) => u.Name === 'nofile')?.Hard).toBeGreaterThanOrEqual(4096);
    // And it serves: the instance answered SQL when it was created (waitReady) and still runs.
    await victimIntact();
  });

  it('every /v1 route refuses a wrong Host header; tokens carry roles on /v1 too', async () => {
    const spec = JSON.parse((await httpReq(cluster.adminPort, 'GET', '/docs/json', {})).body) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(spec.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => ({ method: m.toUpperCase(), url: p.replace('{name}', cluster.nodeName('a')) })));
    const v1 = routes.filter((r) => r.url.startsWith('/v1/'));
    expect(v1.length).toBeGreaterThanOrEqual(10);
    for (const r of routes) {
      const res = await httpReq(cluster.adminPort, r.method, r.url, { host: 'evil.example:80', authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' });
      expect([r.method, r.url, res.status]).toEqual([r.method, r.url, 421]);
    }
    const { token } = await cluster.portal.createToken({ name: 'http-viewer', role: 'viewer' });
    const h = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect((await httpReq(cluster.adminPort, 'GET', '/v1/nodes', h)).status).toBe(200);
    expect((await httpReq(cluster.adminPort, 'POST', `/v1/nodes/${cluster.nodeName('a')}/cordon`, h)).status).toBe(403);
    expect((await cluster.portal.listNodes({})).nodes[0]!.cordoned).toBe(false);
    expect((await httpReq(cluster.adminPort, 'GET', '/v1/nodes', { authorization: 'Bearer nope' })).status).toBe(401);
    // The right Host with the admin token still works.
    expect((await httpReq(cluster.adminPort, 'GET', '/v1/capacity', { host: `localhost:${cluster.adminPort}`, authorization: `Bearer ${ADMIN_TOKEN}` })).status).toBe(200);
    await waitUntil('node still ready', async () => (await cluster.portal.listNodes({})).nodes[0]!.state === 'ready');
  });
});
