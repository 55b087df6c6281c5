import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { UsageMap } from '../state/usage';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { Store } from '../store/index';
import { buildAdminServer } from './server';

const G = 1024 ** 3;
const TOKEN = 's3cret-token';
const auth = { authorization: `Bearer ${TOKEN}` };

function fleet() {
  const store = new Store(Store.open(':memory:').db);
  const base = { host: '127.0.0.1', cpuMillis: 4000, memoryBytes: 8 * G, portMin: 3301, portMax: 3399, busyPorts: [], agentVersion: '', dockerVersion: '' };
  const now = Date.now();
  store.nodes.register({ ...base, name: 'a1', agentAddress: 'x:1', labels: { zone: 'a' }, lastHeartbeatMs: now, disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] });
  store.nodes.register({ ...base, name: 'b1', agentAddress: 'x:2', labels: { zone: 'b' }, lastHeartbeatMs: now, disks: [{ path: '/d', totalBytes: 100 * G, freeBytes: 100 * G }] });
  store.instances.insert({ id: 'i-0000000001', name: 'db1', serverId: 1, node: 'b1', diskPath: '/d', port: 3301, cpuMillis: 1000, memoryBytes: 2 * G, diskBytes: 10 * G, image: 'x', state: 'running', adminUser: 'admin', adminPassword: 'pw' });
  store.events.add('node.registered', 'a1', 'hello');
  store.operations.insert('op-1', 'create', 'i-0000000001', ['reserve'], 0);
  store.backups.insert({ id: 'b-00000000000a', instanceId: 'i-0000000001', instanceName: 'db1', cluster: '', flavor: 'mariadb', repository: 'dir:/r', operationId: 'op-2', status: 'complete', storedBytes: 42 });
  const snapshot = Snapshot.fromStore(store.nodes.all(), store.instances.all());
  return { store, snapshot };
}

describe('admin HTTP routes (app.inject)', () => {
  let app: FastifyInstance;
  const f = fleet();

  beforeAll(async () => {
    app = await buildAdminServer({ ...f, usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, log: createLogger('test', 'silent'), token: TOKEN });
  });
  afterAll(() => app.close());

  const get = (url: string, headers: Record<string, string> = auth) => app.inject({ method: 'GET', url, headers });

  const PROTECTED: [string, string][] = [
    ['GET', '/v1/capacity'],
    ['GET', '/v1/capacity/fit?cpu=1&memory=1G&disk=1G'],
    ['POST', '/v1/capacity/fit'],
    ['GET', '/v1/nodes'],
    ['GET', '/v1/nodes/a1'],
    ['POST', '/v1/nodes/a1/cordon'],
    ['POST', '/v1/nodes/a1/uncordon'],
    ['POST', '/v1/nodes/a1/drain'],
    ['GET', '/v1/instances'],
    ['GET', '/v1/clusters'],
    ['GET', '/v1/operations'],
    ['GET', '/v1/events'],
    ['GET', '/v1/alerts'],
    ['GET', '/v1/backups'],
  ];

  it('refuses every /v1 route without a token or with a wrong one (401), and answers with the right one', async () => {
    for (const [method, url] of PROTECTED) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
        const r = await app.inject({ method: method as 'GET', url, headers });
        expect(r.statusCode, `${method} ${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(r.json().error.code).toBe('unauthorized');
      }
    }
    expect((await get('/v1/nodes')).statusCode).toBe(200);
    expect(f.snapshot.get('a1')!.cordoned).toBe(false); // the refused cordon did nothing
  });

  it('matches public routes on the path alone: a query or a path that merely contains a public name needs the token', async () => {
    const tails = ['?x=/docs/', '?x=/healthz', '?x=/metrics', '?x=/', '?x=%2Fdocs%2F', '?x=%2fhealthz', '?/docs/', '?%2Fdocs', '#/docs/', '?a=1&x=/docs/json'];
    for (const [method, url] of PROTECTED) {
      for (const tail of tails) {
        const sep = url.includes('?') && tail.startsWith('?') ? `&${tail.slice(1)}` : tail;
        const r = await app.inject({ method: method as 'GET', url: url + sep });
        expect(r.statusCode, `${method} ${url}${sep}`).toBe(401);
      }
    }
    // Paths that end in or pass through a public name: refused (401), or unrouted (404), never served.
    for (const [method, url] of [
      ['GET', '/v1/nodes/healthz'],
      ['GET', '/v1/nodes/metrics'],
      ['POST', '/v1/nodes/docs/cordon'],
      ['POST', '/docs/../v1/nodes/a1/cordon'],
      ['POST', '/docs/%2e%2e/v1/nodes/a1/cordon'],
      ['POST', '/docs/%2E%2E%2Fv1%2Fnodes%2Fa1%2Fcordon'],
      ['POST', '/./v1/nodes/a1/cordon'],
      ['POST', '//v1/nodes/a1/cordon'],
      ['GET', '/healthz/../v1/nodes'],
    ] as const) {
      const r = await app.inject({ method, url });
      expect(r.statusCode, `${method} ${url}`).toBe(401);
    }
    expect(f.snapshot.get('a1')!.cordoned).toBe(false);
    expect(f.store.nodes.get('a1')!.cordoned).toBe(false);
    // The public routes stay public with a query string.
    expect((await app.inject({ method: 'GET', url: '/healthz?probe=1' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics?name[]=berth_node_up' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/docs/json?x=1' })).statusCode).toBe(200);
  });

  it('lists the backup catalog (GET /v1/backups), filtered by instance, its query checked', async () => {
    const r = await get('/v1/backups?instance=db1&limit=10');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ total: 1, items: [{ id: 'b-00000000000a', instanceName: 'db1', status: 'complete', storedBytes: 42 }] });
    expect((await get('/v1/backups?instance=nope')).json()).toEqual({ items: [], total: 0 });
    expect((await get('/v1/backups?limit=0')).statusCode).toBe(400);
    expect((await get('/v1/backups?instance=Bad%20Name')).statusCode).toBe(400);
  });

  it('refuses raw dot-segment and escaped paths sent over a real socket, as a client sends them unnormalized', async () => {
    const srv = await buildAdminServer({ ...f, usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, log: createLogger('test', 'silent'), token: TOKEN });
    await srv.listen({ host: '127.0.0.1', port: 0 });
    const { port } = srv.server.address() as AddressInfo;
    // node:http sends the path exactly as given (fetch and inject would resolve the dots first).
    const raw = (method: string, p: string) =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port, method, path: p }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        req.once('error', reject);
        req.end();
      });
    try {
      for (const p of ['/docs/../v1/nodes/a1/cordon', '/docs/./../v1/nodes/a1/cordon', '/docs/%2e%2e/v1/nodes/a1/cordon', '/docs/..%2fv1/nodes/a1/cordon', '/healthz/../v1/nodes/a1/cordon']) {
        expect(await raw('POST', p), p).toBe(401);
      }
      expect(await raw('GET', '/docs/../v1/nodes')).toBe(401);
      expect(f.store.nodes.get('a1')!.cordoned).toBe(false);
      expect(await raw('GET', '/healthz')).toBe(200);
    } finally {
      await srv.close();
    }
  });

  it('serves /healthz, /metrics and the dashboard shell without a token', async () => {
    expect((await get('/healthz', {})).json()).toMatchObject({ ok: true });
    const m = await get('/metrics', {});
    expect(m.statusCode).toBe(200);
    expect(m.body).toContain('berth_node_memory_allocated_bytes{node="b1",zone="b",rack="-"} 2147483648');
    expect(m.body).toContain('berth_instances{node="b1",state="running"} 1');
    for (const name of ['berth_node_up', 'berth_disk_free_bytes', 'berth_operations_running 1', 'berth_scheduler_duration_seconds', 'berth_failovers_total 0', 'berth_alerts_firing']) {
      expect(m.body).toContain(name);
    }
    const page = await get('/', {});
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('/v1/capacity');
  });

  it('serves an OpenAPI document that lists every route, and its UI at /docs', async () => {
    const doc = (await get('/docs/json')).json() as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/v1/capacity', '/v1/capacity/fit', '/v1/nodes', '/v1/nodes/{name}/drain', '/v1/instances', '/v1/operations', '/v1/events', '/v1/alerts', '/metrics']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    const ui = await get('/docs/', {});
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toMatch(/swagger-ui/i);
  });

  it('reports capacity', async () => {
    const r = (await get('/v1/capacity')).json();
    expect(r.fleet.memory).toMatchObject({ capacity: 16 * G, allocated: 2 * G, free: 14 * G, allocationPct: 12.5 });
    expect(r.zones.map((z: { zone: string }) => z.zone)).toEqual(['a', 'b']);
    const b = (await get('/v1/capacity?zone=b')).json();
    expect(b.nodes.map((n: { name: string }) => n.name)).toEqual(['b1']);
  });

  it('answers fit for one shape and for several', async () => {
    const one = (await get('/v1/capacity/fit?cpu=500m&memory=2G&disk=10G')).json();
    expect(one.results[0]).toMatchObject({ count: 7, limitedBy: 'memory', perNode: { a1: 4, b1: 3 } });
    const many = (await get('/v1/capacity/fit?shape=250m,1G,1G&shape=4,1G,1G@a')).json();
    expect(many.results.map((r: { count: number; limitedBy: string }) => [r.count, r.limitedBy])).toEqual([
      [14, 'memory'],
      [1, 'cpu'],
    ]);
    const post = await app.inject({ method: 'POST', url: '/v1/capacity/fit', headers: auth, payload: { shapes: [{ cpu: '1', memory: '2G', disk: '10G', zone: 'b' }] } });
    expect(post.json().results[0]).toMatchObject({ count: 3, perNode: { b1: 3 } });
  });

  it('refuses bad parameters with 400 naming the parameter', async () => {
    const cases: [string, RegExp][] = [
      ['/v1/capacity/fit?cpu=lots&memory=1G&disk=1G', /"cpu"/],
      ['/v1/capacity/fit?cpu=1&memory=1Q&disk=1G', /"memory"/],
      ['/v1/capacity/fit?cpu=1&memory=1G', /"disk"/],
      ['/v1/capacity/fit?cpu=1&memory=1M&disk=1G', /"memory" must be between/],
      ['/v1/capacity/fit', /"cpu"/],
      ['/v1/capacity/fit?shape=1,2', /"shape\.0"/],
      ['/v1/capacity?colour=red', /"colour" is not known/],
      ['/v1/nodes?limit=0', /"limit"/],
      ['/v1/nodes?state=sleepy', /"state"/],
      ['/v1/events?after=-1', /"after"/],
      ['/v1/nodes/Not_A_Name', /"name"/],
    ];
    for (const [url, msg] of cases) {
      const r = await get(url);
      expect(r.statusCode, url).toBe(400);
      expect(r.json().error.message, url).toMatch(msg);
    }
    const body = await app.inject({ method: 'POST', url: '/v1/capacity/fit', headers: auth, payload: { shapes: [{ cpu: '1', memory: '1G' }] } });
    expect(body.statusCode).toBe(400);
    expect(body.json().error.message).toMatch(/"disk" is required/);
  });

  it('lists views with filters and pagination', async () => {
    const nodes = (await get('/v1/nodes?limit=1')).json();
    expect(nodes).toMatchObject({ total: 2, limit: 1, offset: 0, next: 1 });
    expect(nodes.items.map((n: { name: string }) => n.name)).toEqual(['a1']);
    expect((await get('/v1/nodes?limit=1&offset=1')).json()).toMatchObject({ next: null, items: [{ name: 'b1' }] });
    expect((await get('/v1/nodes?zone=b')).json().items.map((n: { name: string }) => n.name)).toEqual(['b1']);
    const inst = (await get('/v1/instances?node=b1')).json();
    expect(inst.items[0]).toMatchObject({ name: 'db1', state: 'running', usage: null });
    expect(JSON.stringify(inst)).not.toContain('pw'); // never the password
    expect((await get('/v1/instances?state=stopped')).json().total).toBe(0);
    expect((await get('/v1/clusters')).json()).toMatchObject({ total: 0, items: [] });
    expect((await get('/v1/operations?state=running')).json().items.map((o: { id: string }) => o.id)).toEqual(['op-1']);
    expect((await get('/v1/events?kind=node.&subject=a1')).json().items[0]).toMatchObject({ kind: 'node.registered', message: 'hello' });
    expect((await get('/v1/nodes/zz')).statusCode).toBe(404);
  });

  it('cordons, uncordons, and drains only an empty node', async () => {
    const post = (url: string) => app.inject({ method: 'POST', url, headers: auth });
    expect((await post('/v1/nodes/a1/cordon')).json()).toMatchObject({ name: 'a1', cordoned: true });
    expect(f.snapshot.get('a1')!.cordoned).toBe(true);
    expect(f.store.nodes.get('a1')!.cordoned).toBe(true);
    expect((await post('/v1/nodes/a1/uncordon')).json()).toMatchObject({ cordoned: false });
    const refused = await post('/v1/nodes/b1/drain');
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.message).toMatch(/cannot drain b1: it runs 1 instance\(s\) \(db1\).*migration/);
    expect(f.snapshot.get('b1')!.cordoned).toBe(false);
    expect((await post('/v1/nodes/a1/drain')).json()).toMatchObject({ cordoned: true });
    expect((await post('/v1/nodes/a1/uncordon')).statusCode).toBe(200);
  });
});

describe('admin HTTP without a token', () => {
  it('lets requests through (the listener binds to loopback only)', async () => {
    const f = fleet();
    const app = await buildAdminServer({ ...f, usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, log: createLogger('test', 'silent') });
    expect((await app.inject({ method: 'GET', url: '/v1/nodes' })).statusCode).toBe(200);
    await app.close();
  });
});
