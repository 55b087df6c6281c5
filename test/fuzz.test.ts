import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentProto, portalProto } from '../src/proto';
import { CHANNEL_OPTIONS } from '../src/rpc';
import { channelCredentials, filesIn } from '../src/tls/credentials';
import { PORTAL_ROLES, RANK } from '../manager/auth/policy';
import type { Role } from '../src/tls/ca';
import { TestCluster } from './harness/cluster';

// Random and boundary inputs for every Portal RPC and every /v1 route of a live TLS fleet (a real
// agent and a real instance that must survive): every answer is a clear status or a valid
// result, a refused call changes nothing, and the manager never falls over. Bounded in count and
// time so it stays a test, not a soak.
const RUNS = 25;
// A server stream still open this long with no error was accepted (a watch waiting for news).
const QUIET_MS = 300;
const TIME_LIMIT_MS = 20_000;

const BOUNDARY = ['', 'a', 'A', '-', 'a-', 'x'.repeat(63), 'x'.repeat(64), 'x'.repeat(5000), '../../etc/passwd', "'; DROP TABLE instances;--", '\u0000', 'é', 'zone=a', 'zone!=', 'i-000000000000', 'op-1', 'admin', 'viewer', 'berth/mariadb:10.11', 'spread', '%s%n', '{}'];
const str = fc.oneof(fc.constantFrom(...BOUNDARY), fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 12 }));
const num = fc.oneof(fc.constantFrom(0, 1, 99, 100, 2 ** 31 - 1, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER), fc.nat());

interface FieldDescriptor {
  name: string;
  label: string;
  type: string;
  typeName: string;
}
const camel = (s: string) => s.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

function scalar(f: FieldDescriptor): fc.Arbitrary<unknown> | undefined {
  switch (f.type) {
    case 'TYPE_STRING':
      return str;
    case 'TYPE_BOOL':
      return fc.boolean();
    case 'TYPE_UINT32':
    case 'TYPE_UINT64':
    case 'TYPE_INT32':
    case 'TYPE_INT64':
      return num;
    case 'TYPE_DOUBLE':
      return fc.double();
    case 'TYPE_MESSAGE':
      return f.typeName.endsWith('Resources') ? fc.record({ cpuMillis: num, memoryBytes: num, diskBytes: num }, { requiredKeys: [] }) : undefined;
    default:
      return undefined;
  }
}

// A random request for a method, built from its message descriptor so new fields and RPCs are
// fuzzed without touching this test.
function requestArb(def: grpc.MethodDefinition<unknown, unknown> & { requestType?: { type: { field: FieldDescriptor[] } } }): fc.Arbitrary<Record<string, unknown>> {
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of def.requestType?.type.field ?? []) {
    const a = scalar(f);
    if (a) parts[camel(f.name)] = f.label === 'LABEL_REPEATED' ? fc.array(a, { maxLength: 5 }) : a;
  }
  return fc.record(parts, { requiredKeys: [] });
}

function call(client: grpc.Client, def: grpc.MethodDefinition<unknown, unknown>, req: unknown, md = new grpc.Metadata()): Promise<grpc.ServiceError | null> {
  return new Promise((resolve) => {
    // Server-streaming methods (the Agent's StreamBackup, SeedInstance): the first message or the
    // status is the answer. A watch (WatchOperations, WatchEvents) refuses a bad request at once
    // and otherwise stays open, quiet until something happens: still open after QUIET_MS is
    // accepted.
    if (def.responseStream) {
      const s = client.makeServerStreamRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md, { deadline: Date.now() + 5000 });
      const quiet = /\/Watch[A-Z]/.test(def.path) ? setTimeout(() => (s.cancel(), resolve(null)), QUIET_MS) : undefined;
      s.on('close', () => clearTimeout(quiet));
      s.on('data', () => (s.cancel(), resolve(null)));
      s.on('error', (e: grpc.ServiceError) => resolve(e.code === grpc.status.CANCELLED ? null : e));
      s.on('status', (st: grpc.StatusObject) => st.code === grpc.status.OK && resolve(null));
      return;
    }
    client.makeUnaryRequest(def.path, def.requestSerialize, def.responseDeserialize, req, md, { deadline: Date.now() + 5000 }, (err) => resolve(err ?? null));
  });
}

function httpReq(port: number, method: string, url: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port, method, path: url, headers }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    r.on('error', reject);
    r.end(body);
  });
}

const CLEAR = ['OK', 'INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'RESOURCE_EXHAUSTED', 'OUT_OF_RANGE'];

describe('fuzzing the portal and the admin HTTP API', () => {
  const TOKEN = 'fuzz-admin-token';
  const cluster = new TestCluster(['--node-timeout', '10', '--admin-token', TOKEN]);
  let keeper = { id: '', name: 'keeper-zz9', containerId: '' };

  // What a refused call must not change: instances, nodes' identity and cordon state, tokens.
  const storeView = async () => {
    const { instances } = await cluster.portal.listInstances({});
    const { nodes } = await cluster.portal.listNodes({});
    const { tokens } = await cluster.portal.listTokens({});
    return JSON.stringify({
      instances: instances.map((i) => [i.id, i.name, i.node, i.port, i.state, i.resources]),
      nodes: nodes.map((n) => [n.name, n.agentAddress, n.host, n.cordoned]),
      tokens: tokens.map((t) => [t.name, t.role]),
    });
  };

  beforeAll(async () => {
    await cluster.start([{ name: 'a', host: '127.0.0.1', ports: '3661-3665', cpus: '2', memory: '2G' }]);
    const res = await cluster.portal.createInstance({ name: keeper.name, resources: { cpuMillis: 500, memoryBytes: 512 * 2 ** 20, diskBytes: 2 ** 30 } });
    const op = await cluster.portal.waitOperation({ id: res.operation!.id, timeoutMs: 150_000 }, 160_000);
    expect(op.state).toBe('succeeded');
    keeper = { ...keeper, id: res.instance!.id, containerId: (await cluster.portal.getInstance({ instance: res.instance!.id })).containerId };
    // Cordoned: a random create that passes validation is refused for placement, so the only
    // container stays the keeper's.
    await cluster.portal.cordonNode({ name: cluster.nodeName('a') });
  });
  afterAll(async () => {
    await cluster.stop();
  });

  it('every Portal RPC answers random and boundary inputs with a clear status; refused calls change nothing', async () => {
    const Portal = portalProto().berth.v1.Portal;
    const admin = cluster.rawPortal('admin');
    const seen: Record<string, Set<string>> = {};
    for (const def of Object.values(Portal.service) as (grpc.MethodDefinition<unknown, unknown> & { requestType?: { type: { field: FieldDescriptor[] } } })[]) {
      const name = def.path.split('/').pop()!;
      seen[name] = new Set();
      await fc.assert(
        fc.asyncProperty(requestArb(def), async (req) => {
          // The keeper is never a target: deleting it would be a valid result, not an attack.
          for (const v of Object.values(req)) if (v === keeper.name || v === keeper.id || v === cluster.nodeName('a')) return;
          const before = await storeView();
          const err = await call(admin, def, req);
          const code = err ? grpc.status[err.code]! : 'OK';
          seen[name]!.add(code);
          expect(CLEAR, `${name}(${JSON.stringify(req).slice(0, 200)}) -> ${code}: ${err?.details}`).toContain(code);
          if (err) {
            expect(err.details.length).toBeGreaterThan(5);
            expect(await storeView()).toBe(before);
          }
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS, seed: Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31) },
      );
    }
    admin.close();
    // Every RPC of the service was called.
    expect(Object.keys(seen).length).toBeGreaterThanOrEqual(15);
    expect(cluster.manager!.exitCode).toBeNull();
    const keep = await cluster.portal.getInstance({ instance: keeper.id });
    expect(keep.state).toBe('running');
    expect((await cluster.containers()).map((c) => c.Id)).toEqual([keeper.containerId]);
  });

  it('every /v1 route answers random and boundary queries and bodies without a 5xx; refused ones change nothing', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const spec = JSON.parse((await httpReq(cluster.adminPort, 'GET', '/docs/json', auth)).body) as { paths: Record<string, Record<string, { parameters?: { name: string; in: string }[] }>> };
    const routes = Object.entries(spec.paths)
      .filter(([p]) => p.startsWith('/v1/'))
      .flatMap(([p, ms]) => Object.entries(ms).map(([m, op]) => ({ method: m.toUpperCase(), path: p, query: (op.parameters ?? []).filter((x) => x.in === 'query').map((x) => x.name) })));
    expect(routes.length).toBeGreaterThanOrEqual(10);
    for (const r of routes) {
      const arb = fc.record({
        name: str,
        query: fc.dictionary(fc.constantFrom(...r.query, 'junk', 'limit', 'offset'), fc.oneof(str, num.map(String), fc.constantFrom('-1', '1e309', 'NaN', '0x10', '1.5'))),
        body: fc.oneof(fc.json(), fc.constant('{'), fc.constant('{"shapes":[{"cpu":"1","memory":"1G","disk":"1G"}]}'), fc.constant('{"shapes":[{"cpu":"0.1","memory":"1","disk":"1"}]}')),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ name, query, body }) => {
          if (name === cluster.nodeName('a')) return;
          const url = r.path.replace('{name}', encodeURIComponent(name) || 'x') + (Object.keys(query).length ? `?${new URLSearchParams(query)}` : '');
          const before = await storeView();
          const res = await httpReq(cluster.adminPort, r.method, url, { ...auth, 'content-type': 'application/json' }, r.method === 'POST' ? body : undefined);
          expect(res.status, `${r.method} ${url} -> ${res.status} ${res.body.slice(0, 200)}`).toBeLessThan(500);
          expect(() => JSON.parse(res.body)).not.toThrow();
          if (res.status >= 400) {
            // Our { error: { message } }, or Fastify's own { message } (an over-long path parameter).
            const b = JSON.parse(res.body) as { error?: { message: string }; message?: string };
            expect(b.error?.message ?? b.message, res.body).toBeTruthy();
            expect(await storeView()).toBe(before);
          }
        }),
        { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT_MS },
      );
    }
    expect(cluster.manager!.exitCode).toBeNull();
    expect((await httpReq(cluster.adminPort, 'GET', '/healthz', {})).status).toBe(200);
    expect((await cluster.containers()).map((c) => c.Id)).toEqual([keeper.containerId]);
  });

  type Def = grpc.MethodDefinition<unknown, unknown> & { requestType?: { type: { field: FieldDescriptor[] } } };
  // The keeper and its node are never named: acting on them would be a valid result.
  const spares = (req: unknown) => !JSON.stringify(req).includes(keeper.id) && !JSON.stringify(req).includes(keeper.name) && !JSON.stringify(req).includes(cluster.nodeName('a'));

  it('every Portal RPC as each role (certificate and token): above the role PERMISSION_DENIED, else a clear status; refused calls change nothing', async () => {
    const Portal = portalProto().berth.v1.Portal;
    const { token } = await cluster.portal.createToken({ name: 'fuzz-viewer-token', role: 'viewer' });
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const callers: { who: string; role: Role; client: grpc.Client; md?: grpc.Metadata }[] = [
      { who: 'cert:viewer', role: 'viewer', client: cluster.rawPortal('viewer', 'fuzz-viewer') },
      { who: 'cert:operator', role: 'operator', client: cluster.rawPortal('operator', 'fuzz-operator') },
      { who: 'token:viewer', role: 'viewer', client: cluster.rawPortal('none'), md },
    ];
    for (const c of callers) {
      for (const def of Object.values(Portal.service) as Def[]) {
        const name = def.path.split('/').pop()!;
        const allowed = RANK[c.role] >= RANK[PORTAL_ROLES[name] ?? 'admin'];
        await fc.assert(
          fc.asyncProperty(requestArb(def), async (req) => {
            if (!spares(req)) return;
            const before = await storeView();
            const err = await call(c.client, def, req, c.md?.clone());
            const code = err ? grpc.status[err.code]! : 'OK';
            const what = `${name} as ${c.who} (${JSON.stringify(req).slice(0, 200)}) -> ${code}: ${err?.details}`;
            if (allowed) expect([...CLEAR, 'PERMISSION_DENIED'], what).toContain(code);
            else expect(code, what).toBe('PERMISSION_DENIED');
            if (err) expect(await storeView(), what).toBe(before);
          }),
          { numRuns: 8, interruptAfterTimeLimit: 5000 },
        );
      }
      c.client.close();
    }
    expect(cluster.manager!.exitCode).toBeNull();
    expect((await cluster.containers()).map((x) => x.Id)).toEqual([keeper.containerId]);
  });

  it('every Registry RPC as a node for itself and as another node: clear statuses, no other node touched, the manager stays up', async () => {
    const Registry = agentProto().berth.v1.Registry;
    const own = 'fuzz-node';
    const num2 = fc.oneof(num, fc.constantFrom(-1, 2 ** 53, 0.5));
    const disk = fc.record({ path: str, totalBytes: num2, freeBytes: num2 }, { requiredKeys: [] });
    const inst = fc.record({ id: fc.oneof(str, fc.constant(keeper.id)), name: str, state: str, containerId: str, port: num, diskPath: str, usedDiskBytes: num, usageMeasuredAtMs: num, mysqldUnresponsive: fc.boolean() }, { requiredKeys: [] });
    const nodeName = fc.oneof(fc.constant(own), str, fc.constant(cluster.nodeName('a')));
    const requests: Record<string, fc.Arbitrary<unknown>> = {
      Register: fc.record({
        node: fc.record({ name: nodeName, agentAddress: fc.oneof(str, fc.constant('127.0.0.12:1')), host: str, labels: fc.dictionary(str, str, { maxKeys: 3 }), cpuMillis: num2, memoryBytes: num2, disks: fc.array(disk, { maxLength: 3 }), portMin: num, portMax: num, busyPorts: fc.array(num, { maxLength: 4 }), agentVersion: str, dockerVersion: str }, { requiredKeys: [] }),
        instances: fc.array(inst, { maxLength: 3 }),
      }, { requiredKeys: [] }),
      Heartbeat: fc.record({ node: nodeName, disks: fc.array(disk, { maxLength: 3 }), instances: fc.array(inst, { maxLength: 3 }), busyPorts: fc.array(num, { maxLength: 4 }), delta: fc.boolean(), removedInstanceIds: fc.array(str, { maxLength: 3 }), revocationsVersion: num }, { requiredKeys: [] }),
    };
    const dial = (node: string) => new Registry(cluster.registryAddress, channelCredentials(cluster.certFor('node', node), { kind: 'manager' }), CHANNEL_OPTIONS);
    const keeperNode = async () => JSON.stringify((await cluster.portal.listNodes({})).nodes.filter((n) => n.name === cluster.nodeName('a')).map((n) => [n.agentAddress, n.host, n.cordoned, n.capacity]));
    const keeperView = async () => JSON.stringify((await cluster.portal.getInstance({ instance: keeper.id })).state);
    for (const who of [own, 'fuzz-other']) {
      const client = dial(who);
      for (const def of Object.values(Registry.service) as Def[]) {
        const name = def.path.split('/').pop()!;
        await fc.assert(
          fc.asyncProperty(requests[name]!, async (req) => {
            const before = await keeperNode();
            const err = await call(client, def, req);
            const code = err ? grpc.status[err.code]! : 'OK';
            const what = `Registry.${name} as node ${who} (${JSON.stringify(req).slice(0, 200)}) -> ${code}: ${err?.details}`;
            expect([...CLEAR, 'PERMISSION_DENIED'], what).toContain(code);
            if (err) expect(err.details.length, what).toBeGreaterThan(5);
            // Whatever it sends, another node's row stays as it was.
            expect(await keeperNode(), what).toBe(before);
          }),
          { numRuns: 15, interruptAfterTimeLimit: 8000 },
        );
      }
      client.close();
    }
    expect(await keeperView()).toBe('"running"');
    expect(cluster.manager!.exitCode).toBeNull();
  });

  it('every Agent RPC as the manager, as a node and as a client: clear statuses, others refused, the keeper untouched', async () => {
    const Agent = agentProto().berth.v1.Agent;
    const a = cluster.agents[0]!;
    const dial = (files: ReturnType<typeof filesIn>) => new Agent(a.address, channelCredentials(files, { kind: 'node', name: a.node }), cluster.agentChannelOptions(a.address));
    const callers = [
      { who: 'manager', client: dial(filesIn(cluster.tlsDir, 'manager', 'manager')) },
      { who: 'node', client: dial(cluster.certFor('node', 'fuzz-other')) },
      { who: 'admin client', client: dial(filesIn(cluster.tlsDir, 'admin', 'admin')) },
    ];
    // What an agent may answer its manager: a clear status, or that a peer it was sent to
    // (a random source agent) did not answer in time.
    const AGENT_CLEAR = [...CLEAR, 'UNAVAILABLE', 'DEADLINE_EXCEEDED'];
    for (const c of callers) {
      for (const def of Object.values(Agent.service) as Def[]) {
        const name = def.path.split('/').pop()!;
        await fc.assert(
          fc.asyncProperty(requestArb(def), async (req) => {
            if (!spares(req)) return;
            const err = await call(c.client, def, req);
            const code = err ? grpc.status[err.code]! : 'OK';
            const what = `Agent.${name} as ${c.who} (${JSON.stringify(req).slice(0, 200)}) -> ${code}: ${err?.details}`;
            if (c.who === 'manager') expect(AGENT_CLEAR, what).toContain(code);
            else expect(code, what).toBe('PERMISSION_DENIED');
          }),
          { numRuns: c.who === 'manager' ? 15 : 4, interruptAfterTimeLimit: 8000 },
        );
      }
      c.client.close();
    }
    expect(a.proc?.exitCode ?? null).toBeNull();
    expect((await cluster.portal.getInstance({ instance: keeper.id })).state).toBe('running');
    expect((await cluster.containers()).map((x) => x.Id)).toEqual([keeper.containerId]);
  });
});
