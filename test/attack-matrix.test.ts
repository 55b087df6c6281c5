import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_ROLES, PORTAL_ROLES, RANK } from '../manager/auth/policy';
import { AGENT_POLICY, REGISTRY_POLICY } from '../src/policy';
import { agentProto, portalProto } from '../src/proto';
import { CHANNEL_OPTIONS } from '../src/rpc';
import { CA_FILES, initCa, issueCert, type Role } from '../src/tls/ca';
import { channelCredentials, filesIn, type TlsFiles } from '../src/tls/credentials';
import { TestCluster, waitUntil } from './harness/cluster';

// The attack suite generated from the policy tables (manager/auth/policy.ts, src/policy.ts):
// every method of every service (Portal, Registry, Agent, admin HTTP) is called as every kind of
// caller, and the answer must be what the table says: refused (UNAUTHENTICATED,
// PERMISSION_DENIED, or the TLS handshake) or let through to the handler (any other status).
// A method or route with no entry in its table fails here, so a new one cannot go unreviewed.
// Against a real manager and a real agent with TLS (no instance: every request names nothing).

type Verdict = 'allowed' | 'UNAUTHENTICATED' | 'PERMISSION_DENIED' | 'UNAVAILABLE';
const REFUSALS = new Set(['UNAUTHENTICATED', 'PERMISSION_DENIED', 'UNAVAILABLE']);
const NO_INSTANCE = 'i-000000000000';

type Def = grpc.MethodDefinition<unknown, unknown>;
// One call by its definition: the status code's name ('OK' included), unary or server-streaming.
function call(client: grpc.Client, def: Def, req: unknown, md = new grpc.Metadata()): Promise<{ code: string; details: string }> {
  const deadline = Date.now() + 5000;
  return new Promise((resolve) => {
    const done = (err: grpc.ServiceError | null) => resolve({ code: err ? grpc.status[err.code]! : 'OK', details: err?.details ?? '' });
    if (def.responseStream) {
      const s = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md, { deadline });
      s.on('data', () => s.cancel());
      s.on('error', (e: grpc.ServiceError) => done(e.code === grpc.status.CANCELLED ? null : e));
      s.on('status', (st: grpc.StatusObject) => st.code === grpc.status.OK && done(null));
      return;
    }
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md, { deadline }, (err) => done(err ?? null));
  });
}

const verdictOf = (code: string): Verdict => (REFUSALS.has(code) ? (code as Verdict) : 'allowed');
const methodsOf = (svc: grpc.ServiceDefinition) => Object.entries(svc as Record<string, Def>);

describe('the attack suite, generated from the policy tables', () => {
  const ADMIN_TOKEN = 'matrix-admin-token';
  const cluster = new TestCluster(['--node-timeout', '10', '--admin-token', ADMIN_TOKEN]);
  const Portal = portalProto().berth.v1.Portal;
  const Registry = agentProto().berth.v1.Registry;
  const Agent = agentProto().berth.v1.Agent;
  const tokens: Record<Role, string> = { viewer: '', operator: '', admin: ADMIN_TOKEN };
  // A second certificate of the fleet's own CA for the manager and one for a node, revoked
  // below: the same identities, another serial.
  let revokedManager: TlsFiles;
  let revokedNode: TlsFiles;

  beforeAll(async () => {
    await cluster.start([{ name: 'a', host: '127.0.0.1', ports: '3671-3672', cpus: '1', memory: '1G' }]);
    for (const role of ['viewer', 'operator'] as const) tokens[role] = (await cluster.portal.createToken({ name: `matrix-${role}`, role })).token;
    const twin = path.join(cluster.dir, 'same-ca');
    fs.mkdirSync(twin, { mode: 0o700 });
    for (const f of [CA_FILES.cert, CA_FILES.key]) fs.copyFileSync(path.join(cluster.tlsDir, f), path.join(twin, f));
    issueCert(twin, 'manager', 'manager');
    issueCert(twin, 'node', 'matrix-own');
    revokedManager = filesIn(twin, 'manager', 'manager');
    revokedNode = filesIn(twin, 'node', 'matrix-own');
    for (const f of [revokedManager, revokedNode, cluster.certFor('operator', 'revoked-op')]) {
      const serial = new (await import('node:crypto')).X509Certificate(fs.readFileSync(f.cert)).serialNumber;
      await cluster.portal.revokeCertificate({ serial, reason: 'attack matrix' });
    }
  });
  afterAll(async () => {
    if (process.env.BERTH_KEEP_LOGS) console.log(cluster.logs());
    await cluster.stop();
  });

  it('every method of every service has a policy entry', () => {
    const missing = [
      ...methodsOf(Portal.service).filter(([m]) => !(m in PORTAL_ROLES)).map(([m]) => `Portal.${m}`),
      ...methodsOf(Registry.service).filter(([m]) => !(m in REGISTRY_POLICY)).map(([m]) => `Registry.${m}`),
      ...methodsOf(Agent.service).filter(([m]) => !(m in AGENT_POLICY)).map(([m]) => `Agent.${m}`),
    ];
    expect(missing).toEqual([]);
    // And no entry names a method that is gone.
    expect(Object.keys(PORTAL_ROLES).filter((m) => !(m in Portal.service))).toEqual([]);
    expect(Object.keys(AGENT_POLICY).filter((m) => !(m in Agent.service))).toEqual([]);
  });

  it('Portal: every role (certificate and token), node, manager, revoked, anonymous and plaintext callers × every method', async () => {
    const tlsAs = (files: TlsFiles) => new Portal(cluster.managerAddress, channelCredentials(files, { kind: 'manager' }), CHANNEL_OPTIONS);
    const anonCreds = channelCredentials(filesIn(cluster.tlsDir, 'admin', 'admin'), { kind: 'manager' }, false);
    const bearer = (t: string) => {
      const md = new grpc.Metadata();
      md.set('authorization', `Bearer ${t}`);
      return md;
    };
    const byRole = (role: Role) => (m: string): Verdict => (RANK[role] >= RANK[PORTAL_ROLES[m]!] ? 'allowed' : 'PERMISSION_DENIED');
    const callers: { who: string; client: grpc.Client; md?: grpc.Metadata; expect: (m: string) => Verdict }[] = [
      ...(['viewer', 'operator', 'admin'] as const).map((role) => ({ who: `cert:${role}`, client: tlsAs(cluster.certFor(role, `matrix-${role}`)), expect: byRole(role) })),
      ...(['viewer', 'operator', 'admin'] as const).map((role) => ({ who: `token:${role}`, client: new Portal(cluster.managerAddress, anonCreds, CHANNEL_OPTIONS), md: bearer(tokens[role]), expect: byRole(role) })),
      { who: 'cert:node', client: tlsAs(cluster.certFor('node', cluster.nodeName('a'))), expect: () => 'PERMISSION_DENIED' },
      { who: 'cert:manager', client: tlsAs(filesIn(cluster.tlsDir, 'manager', 'manager')), expect: () => 'PERMISSION_DENIED' },
      { who: 'cert:revoked-operator', client: tlsAs(filesIn(cluster.tlsDir, 'operator', 'revoked-op')), expect: () => 'UNAUTHENTICATED' },
      { who: 'anonymous', client: new Portal(cluster.managerAddress, anonCreds, CHANNEL_OPTIONS), expect: () => 'UNAUTHENTICATED' },
      { who: 'bad-token', client: new Portal(cluster.managerAddress, anonCreds, CHANNEL_OPTIONS), md: bearer('berth_not-a-token'), expect: () => 'UNAUTHENTICATED' },
      { who: 'plaintext', client: new Portal(cluster.managerAddress, grpc.credentials.createInsecure()), expect: () => 'UNAVAILABLE' },
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [m, def] of methodsOf(Portal.service)) {
      for (const c of callers) {
        // Empty requests: an allowed call is refused by validation or finds nothing.
        const r = await call(c.client, def, {}, c.md?.clone());
        got.push(`${m} as ${c.who}: ${verdictOf(r.code)}`);
        want.push(`${m} as ${c.who}: ${c.expect(m)}`);
      }
    }
    expect(got).toEqual(want);
    expect(got.length).toBe(methodsOf(Portal.service).length * callers.length);
    for (const c of callers) c.client.close();
  });

  it('Registry: the node itself, another node, a revoked certificate of it, a client, the manager, anonymous × every method', async () => {
    const own = 'matrix-own';
    const dial = (files: TlsFiles, withCert = true) => new Registry(cluster.registryAddress, channelCredentials(files, { kind: 'manager' }, withCert), CHANNEL_OPTIONS);
    const requests: Record<string, unknown> = {
      Register: { node: { name: own, agentAddress: '127.0.0.11:1', host: '127.0.0.11', labels: {}, cpuMillis: 1000, memoryBytes: 2 ** 30, disks: [{ path: '/m', totalBytes: 2 ** 30, freeBytes: 2 ** 30 }], portMin: 40_000, portMax: 40_009, agentVersion: 'x', dockerVersion: 'x', busyPorts: [] }, instances: [] },
      Heartbeat: { node: own, disks: [], instances: [], busyPorts: [] },
    };
    const expectOf = (policy: string, who: string): Verdict => {
      expect(policy).toBe('own-node');
      return who === 'cert:node-itself' ? 'allowed' : who === 'anonymous' ? 'UNAVAILABLE' : 'PERMISSION_DENIED';
    };
    // The node's own certificate first from another directory: the revoked twin of it.
    const ownFiles = cluster.certFor('node', own);
    const callers = [
      { who: 'cert:node-itself', client: dial(ownFiles) },
      { who: 'cert:revoked-same-node', client: dial(revokedNode) },
      { who: 'cert:other-node', client: dial(cluster.certFor('node', 'matrix-other')) },
      { who: 'cert:admin', client: dial(filesIn(cluster.tlsDir, 'admin', 'admin')) },
      { who: 'cert:manager', client: dial(filesIn(cluster.tlsDir, 'manager', 'manager')) },
      { who: 'anonymous', client: dial(filesIn(cluster.tlsDir, 'admin', 'admin'), false) },
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [m, def] of methodsOf(Registry.service)) {
      for (const c of callers) {
        const r = await call(c.client, def, requests[m] ?? {});
        got.push(`${m} as ${c.who}: ${verdictOf(r.code)}`);
        want.push(`${m} as ${c.who}: ${expectOf(REGISTRY_POLICY[m]!, c.who)}`);
      }
    }
    expect(got).toEqual(want);
    for (const c of callers) c.client.close();
  });

  it('Agent: the manager, a revoked manager certificate (pushed to the agent), a node, a client, another CA, plaintext × every method', async () => {
    const agent = cluster.agents[0]!;
    // The list reached the agent with a heartbeat answer, and is kept on its disk.
    const listFile = path.join(agent.disks[0]!, 'berth', '.revocations.json');
    await waitUntil('the revocation list on the agent', async () => fs.existsSync(listFile) && (JSON.parse(fs.readFileSync(listFile, 'utf8')) as { serials: string[] }).serials.length >= 3, 20_000);
    const rogueDir = path.join(cluster.dir, 'rogue-ca');
    initCa(rogueDir);
    issueCert(rogueDir, 'manager', 'manager');
    const dial = (files: TlsFiles | undefined) =>
      new Agent(agent.address, files ? channelCredentials(files, { kind: 'node', name: agent.node }) : grpc.credentials.createInsecure(), cluster.agentChannelOptions(agent.address));
    const callers: { who: string; client: grpc.Client; expect: (policy: string) => Verdict }[] = [
      { who: 'cert:manager', client: dial(filesIn(cluster.tlsDir, 'manager', 'manager')), expect: () => 'allowed' },
      { who: 'cert:revoked-manager', client: dial(revokedManager), expect: () => 'PERMISSION_DENIED' },
      // Allowed for StreamBackup only with the manager's grant: none here.
      { who: 'cert:node', client: dial(cluster.certFor('node', 'matrix-other')), expect: () => 'PERMISSION_DENIED' },
      { who: 'cert:admin', client: dial(filesIn(cluster.tlsDir, 'admin', 'admin')), expect: () => 'PERMISSION_DENIED' },
      { who: 'cert:rogue-ca-manager', client: dial({ ...filesIn(rogueDir, 'manager', 'manager'), ca: filesIn(cluster.tlsDir, 'manager', 'manager').ca }), expect: () => 'UNAVAILABLE' },
      { who: 'plaintext', client: dial(undefined), expect: () => 'UNAVAILABLE' },
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const [m, def] of methodsOf(Agent.service)) {
      for (const c of callers) {
        // An instance that does not exist on another disk: nothing to act on when let through.
        const r = await call(c.client, def, { id: NO_INSTANCE, node: agent.node, diskPath: '/nonexistent' });
        got.push(`${m} as ${c.who}: ${verdictOf(r.code)}`);
        want.push(`${m} as ${c.who}: ${c.expect(AGENT_POLICY[m]!)}`);
        if (c.who === 'cert:revoked-manager') expect(r.details, m).toMatch(/revoked/);
      }
    }
    expect(got).toEqual(want);
    for (const c of callers) c.client.close();
    // The real manager still reaches the agent.
    expect((await cluster.portal.listNodes({})).nodes.find((n) => n.name === agent.node)?.state).toBe('ready');
  });

  it('admin HTTP: every route of the API description × anonymous, each role token and a revoked token', async () => {
    const spec = (await (await fetch(`${cluster.adminUrl}/docs/json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(spec.paths).flatMap(([p, ms]) => Object.keys(ms).map((m) => ({ method: m.toUpperCase(), pattern: p.replace(/\{(\w+)\}/g, ':$1') })));
    const v1 = routes.filter((r) => r.pattern.startsWith('/v1/'));
    expect(v1.length).toBeGreaterThanOrEqual(14);
    // Every /v1 route has an entry, and every entry is a route.
    expect(v1.filter((r) => !(`${r.method} ${r.pattern}` in HTTP_ROLES)).map((r) => `${r.method} ${r.pattern}`)).toEqual([]);
    expect(Object.keys(HTTP_ROLES).filter((k) => !v1.some((r) => `${r.method} ${r.pattern}` === k))).toEqual([]);
    const { token: gone } = await cluster.portal.createToken({ name: 'matrix-gone', role: 'admin' });
    await cluster.portal.revokeToken({ name: 'matrix-gone' });
    const callers: { who: string; token?: string; role?: Role }[] = [
      { who: 'anonymous' },
      { who: 'revoked-token', token: gone },
      ...(['viewer', 'operator', 'admin'] as const).map((role) => ({ who: `token:${role}`, token: tokens[role], role })),
    ];
    const got: string[] = [];
    const want: string[] = [];
    for (const r of routes) {
      const isPublic = !r.pattern.startsWith('/v1/');
      for (const c of callers) {
        const url = r.pattern.replace(/:\w+/g, 'no-such-node');
        const res = await fetch(`${cluster.adminUrl}${url}`, { method: r.method, headers: { ...(c.token ? { authorization: `Bearer ${c.token}` } : {}), ...(r.method === 'POST' ? { 'content-type': 'application/json' } : {}) }, body: r.method === 'POST' ? '{}' : undefined });
        const v = res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'PERMISSION_DENIED' : 'allowed';
        const needed = HTTP_ROLES[`${r.method} ${r.pattern}`];
        const expected = isPublic ? 'allowed' : !c.role ? 'UNAUTHENTICATED' : RANK[c.role] >= RANK[needed!] ? 'allowed' : 'PERMISSION_DENIED';
        got.push(`${r.method} ${r.pattern} as ${c.who}: ${v}`);
        want.push(`${r.method} ${r.pattern} as ${c.who}: ${expected}`);
        expect(res.status, `${r.method} ${url}`).toBeLessThan(500);
      }
    }
    expect(got).toEqual(want);
    // Nothing an allowed call could reach changed the node.
    expect((await cluster.portal.listNodes({})).nodes.find((n) => n.name === cluster.nodeName('a'))?.cordoned).toBe(false);
  });
});
