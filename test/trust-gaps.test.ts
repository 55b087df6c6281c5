import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentProto } from '../src/proto';
import { asyncClient, CHANNEL_OPTIONS, type AsyncClient } from '../src/rpc';
import { issueCert } from '../src/tls/ca';
import { channelCredentials, filesIn } from '../src/tls/credentials';
import type { RegistryClient } from '../src/gen/berth/v1/Registry';
import { ROOT, TestCluster, waitUntil } from './harness/cluster';
import { FakeAgent } from './harness/fake-agent';
import { waitOp } from './harness/ops';

const G = 1024 ** 3;
const shape = { cpuMillis: 500, memoryBytes: G, diskBytes: G };

// Issue 26 ("Trust, second pass"), each gap against a real manager process over real gRPC and
// HTTP with TLS, its SQLite file, and simulated hosts (test/harness/fake-agent.ts): no Docker.
describe('trust, second pass: the gaps a review found', () => {
  const cluster = new TestCluster(['--node-timeout', '3']);
  // The default set-up: no --admin-token, no --admin-unauthenticated.
  cluster.adminAuthDefault = true;
  let agents: FakeAgent[] = [];
  const log = () => fs.readFileSync(path.join(cluster.dir, 'manager.log'), 'utf8');
  const adminToken = () => fs.readFileSync(cluster.adminTokenFile, 'utf8').trim();
  const http = (url: string, token?: string, init: RequestInit = {}) => fetch(`${cluster.adminUrl}${url}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body ? { 'content-type': 'application/json' } : {}) } });
  const bearer = (token: string) => {
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    return cluster.portalAs('none', 'none', md);
  };
  const registryAs = (node: string): AsyncClient<RegistryClient> => {
    const Registry = agentProto().berth.v1.Registry;
    return asyncClient(new Registry(cluster.registryAddress, channelCredentials(cluster.certFor('node', node), { kind: 'manager' }), CHANNEL_OPTIONS) as unknown as RegistryClient);
  };
  const nodeInfo = (name: string, agentAddress: string) => ({
    name, agentAddress, host: '127.0.0.1', labels: {}, cpuMillis: 1000, memoryBytes: G, disks: [{ path: '/fake/x', totalBytes: 10 * G, freeBytes: 10 * G }],
    portMin: 30_000, portMax: 30_009, agentVersion: 'x', dockerVersion: 'x', busyPorts: [],
  });
  const restartWith = async (extra: string[]) => {
    const m = cluster.manager!;
    if (m.exitCode === null && m.signalCode === null) await new Promise((resolve) => (m.once('exit', resolve), m.kill('SIGTERM')));
    cluster.startManager(extra);
    await cluster.waitForNodes();
    // The simulated hosts' next heartbeats make them ready again for the new process.
    await waitUntil('the simulated nodes ready after the restart', async () => {
      const { nodes } = await cluster.portal.listNodes({});
      return agents.every((a) => nodes.some((n) => n.name === a.spec.name && n.state === 'ready'));
    });
  };
  const events = async (kind: string, subject: string) =>
    ((await (await http(`/v1/events?kind=${kind}&subject=${encodeURIComponent(subject)}`, adminToken())).json()) as { items: { message: string }[] }).items;

  beforeAll(async () => {
    await cluster.start([]);
    agents = await Promise.all(['a', 'b'].map((s, i) => new FakeAgent({ name: cluster.nodeName(s), cpuMillis: 8000, memoryBytes: 16 * G, disks: [100 * G], ports: [31_000 + i * 100, 31_099 + i * 100] }, cluster.registryAddress, cluster.tlsDir).start()));
    await waitUntil('both simulated nodes ready', async () => (await cluster.portal.listNodes({})).nodes.filter((n) => n.state === 'ready').length === 2);
  });
  afterAll(async () => {
    if (process.env.BERTH_KEEP_LOGS) console.log(cluster.logs());
    await Promise.all(agents.map((a) => a.stop()));
    await cluster.stop();
  });

  it('row 2: the admin HTTP server wants a token by default; the manager made one (0600), printed it once, and berthctl capacity reads it', async () => {
    expect(fs.statSync(cluster.adminTokenFile).mode & 0o777).toBe(0o600);
    const token = adminToken();
    expect((await http('/v1/nodes')).status).toBe(401);
    expect((await http(`/v1/nodes/${cluster.nodeName('a')}/cordon`, undefined, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await http('/v1/nodes', token)).status).toBe(200);
    // The dashboard tells a person where the token is.
    expect(await (await http('/')).text()).toMatch(/admin-token/);
    // The token is an admin token on the portal too.
    expect((await bearer(token).listTokens({})).tokens.map((t) => t.name)).toContain('admin-token');
    const ctl = execFileSync(process.execPath, ['bin/berthctl.js', 'capacity', '--admin', cluster.adminUrl], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BERTH_STATE_DIR: path.dirname(cluster.adminTokenFile), BERTH_ADMIN_TOKEN: '' } });
    expect(ctl).toContain(cluster.nodeName('a'));
    // Printed once: a restart uses the file and prints nothing.
    await restartWith([]);
    expect(adminToken()).toBe(token);
    expect(log().split(token).length - 1).toBe(1);
    expect((await http('/v1/nodes', token)).status).toBe(200);
  });

  it('row 4: a token taken out of the configuration stops working on the portal; --admin-unauthenticated warns at every start', async () => {
    await restartWith(['--admin-token', 'explicit-admin-token-26']);
    expect((await bearer('explicit-admin-token-26').listTokens({})).tokens.length).toBeGreaterThan(0);
    const warned = () => log().split('UNAUTHENTICATED: --admin-unauthenticated').length - 1;
    const before = warned();
    await restartWith(['--admin-unauthenticated']);
    await expect(bearer('explicit-admin-token-26').listTokens({})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    await expect(bearer(adminToken()).listTokens({})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect((await http('/v1/nodes')).status).toBe(200);
    await restartWith(['--admin-unauthenticated']);
    expect(warned()).toBe(before + 2);
    // Back to the default: the file's token again, the explicit one still refused.
    await restartWith([]);
    expect((await http('/v1/nodes')).status).toBe(401);
    await expect(bearer('explicit-admin-token-26').listTokens({})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect((await bearer(adminToken()).listTokens({})).tokens.map((t) => t.name)).toContain('admin-token');
  });

  it('row 1: a repeated CreateInstance carries credentials only to an admin, and then as an audited read', async () => {
    const first = await cluster.portal.createInstance({ name: 'rep1', resources: shape });
    expect(first.credentials?.password.length).toBeGreaterThan(10);
    expect((await waitOp(cluster, first.operation!.id)).state).toBe('succeeded');
    const operator = cluster.portalAs('operator', 'olga');
    const byOperator = await operator.createInstance({ name: 'rep1', resources: shape });
    expect(byOperator.instance?.id).toBe(first.instance!.id);
    expect(byOperator.credentials).toBeNull();
    const byId = await operator.createInstance({ name: first.instance!.id, resources: shape }).catch((e: grpc.ServiceError) => e);
    expect('credentials' in byId ? byId.credentials : null).toBeNull();
    expect(await events('credentials.read', first.instance!.id)).toEqual([]);
    const byAdmin = await cluster.portal.createInstance({ name: 'rep1', resources: shape });
    expect(byAdmin.credentials?.password).toBe(first.credentials!.password);
    expect((await events('credentials.read', first.instance!.id)).map((e) => e.message)).toEqual([expect.stringMatching(/cert:admin read the admin credentials of rep1 \(CreateInstance repeated by name\)/)]);
    // The creator's own retry (its request id) gets them again, audited.
    const mine = await operator.createInstance({ name: 'rep2', resources: shape, requestId: 'olga-1' });
    expect(mine.credentials?.password.length).toBeGreaterThan(10);
    const retry = await operator.createInstance({ name: 'rep2', resources: shape, requestId: 'olga-1' });
    expect(retry.credentials?.password).toBe(mine.credentials!.password);
    expect((await events('credentials.read', mine.instance!.id)).map((e) => e.message)).toEqual([expect.stringMatching(/cert:olga read the admin credentials of rep2 \(CreateInstance retried with its request_id\)/)]);
    operator.close();
  });

  it("row 3: a node's heartbeat speaks only for the instances placed on it; the rest is dropped and counted", async () => {
    const victim = (await cluster.portal.getInstance({ instance: 'rep1' })).id;
    const z = cluster.nodeName('z');
    const reg = registryAs(z);
    await reg.register({ node: nodeInfo(z, '127.0.0.9:1'), instances: [] });
    const lie = { id: victim, name: 'rep1', state: 'running', containerId: 'x', usageMeasuredAtMs: Date.now(), usedDiskBytes: 999 * G, usedMemoryBytes: 1, mysqldUnresponsive: true, replication: { measuredAtMs: Date.now(), mysqldUp: false, mysqldDownSinceMs: Date.now() - 60_000 } };
    await reg.heartbeat({ node: z, disks: nodeInfo(z, '').disks, instances: [lie], busyPorts: [] });
    const usage = async () => ((await (await http('/v1/instances', adminToken())).json()) as { items: { id: string; usage: unknown }[] }).items.find((i) => i.id === victim)?.usage;
    expect(await usage()).toBeNull();
    const metrics = await (await http('/metrics')).text();
    expect(metrics).toMatch(new RegExp(`berth_heartbeat_foreign_reports_total\\{node="${z}"\\} [1-9]`));
    expect(log()).toMatch(/heartbeat reports instances the store does not place on this node/);
    // The instance's own state is untouched.
    expect((await cluster.portal.getInstance({ instance: victim })).state).toBe('running');
    reg.close();
  });

  it('row 10: a second live node at one agent address is refused; a dead row at the address does not block a new name', async () => {
    const a = agents[0]!;
    const intruder = registryAs(cluster.nodeName('twin'));
    const e = await intruder.register({ node: nodeInfo(cluster.nodeName('twin'), a.address), instances: [] }).catch((err: grpc.ServiceError) => err);
    expect(e).toMatchObject({ code: grpc.status.FAILED_PRECONDITION, details: expect.stringContaining(`belongs to node ${a.spec.name}, which is alive`) });
    expect((await cluster.portal.listNodes({})).nodes.map((n) => n.name)).not.toContain(cluster.nodeName('twin'));
    // Node z (row 3) registered at 127.0.0.9:1 and fell silent: a host that comes back there
    // under a new name registers once z reads down.
    const renamed = registryAs(cluster.nodeName('z2'));
    await waitUntil('z down, and z2 registered at its address', async () => {
      const r = await renamed.register({ node: nodeInfo(cluster.nodeName('z2'), '127.0.0.9:1'), instances: [] }).then(() => true, () => false);
      return r;
    }, 20_000, 500);
    intruder.close();
    renamed.close();
  });

  it('row 5: revocation is enforced on every call: a client certificate mid-session, a node certificate by name after a re-issue, and from berthctl', async () => {
    const mallory = cluster.portalAs('operator', 'mallory');
    expect((await mallory.listNodes({})).nodes.length).toBeGreaterThan(0);
    const serial = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', filesIn(cluster.tlsDir, 'operator', 'mallory').cert], { encoding: 'utf8' }).trim();
    const r = await cluster.portal.revokeCertificate({ serial, reason: 'laptop stolen' });
    expect(r.revoked?.serial).toBe(serial.replace(/^serial=0*/, ''));
    // The same connection: refused at the next call.
    await expect(mallory.listNodes({})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(/is revoked/) });
    await expect(cluster.portal.revokeCertificate({ serial: 'zz' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(cluster.portal.revokeCertificate({ kind: 'mysql', name: 'x' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    await expect(mallory.revokeCertificate({ serial: '01' })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });

    // A node whose certificate was copied: revoke by name (the old serial is gone with the
    // re-issue), then re-issue; the old one is refused, the new one works.
    const n = cluster.nodeName('z3');
    const old = registryAs(n);
    await old.register({ node: nodeInfo(n, '127.0.0.10:1'), instances: [] });
    await cluster.portal.revokeCertificate({ kind: 'node', name: n });
    await expect(old.heartbeat({ node: n, disks: [], instances: [], busyPorts: [] })).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringMatching(/are revoked/) });
    // notBefore has whole seconds: re-issued a second after the revocation.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    issueCert(cluster.tlsDir, 'node', n, { force: true });
    const renewed = registryAs(n);
    await expect(renewed.register({ node: nodeInfo(n, '127.0.0.10:1'), instances: [] })).resolves.toBeTruthy();

    // berthctl certs revoke, by client name (a certificate eve holds already); the list shows
    // every entry; each is an event.
    const eve = cluster.portalAs('viewer', 'eve');
    expect((await eve.listNodes({})).nodes.length).toBeGreaterThan(0);
    const out = execFileSync(process.execPath, ['bin/berthctl.js', '--manager', cluster.managerAddress, 'certs', 'revoke', '--client', 'eve:viewer', '--reason', 'left'], { cwd: ROOT, encoding: 'utf8' });
    expect(out).toMatch(/revoked every viewer certificate of eve/);
    const list = await cluster.portal.listRevokedCertificates({});
    expect(list.revoked.map((x) => x.serial || `${x.kind}:${x.name}`)).toEqual([r.revoked!.serial, `node:${n}`, 'viewer:eve']);
    expect(list.version).toBeGreaterThanOrEqual(3);
    expect((await events('certificate.revoked', 'viewer:eve')).map((e) => e.message)).toEqual([expect.stringMatching(/cert:admin revoked every viewer certificate of eve .*: left/)]);
    // Kept in the store: still refused after a restart.
    await restartWith([]);
    await expect(eve.listNodes({})).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    for (const c of [mallory, old, renewed, eve]) c.close();
  });
});
