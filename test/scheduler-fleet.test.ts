import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent, type FakeNodeSpec } from './harness/fake-agent';
import { ROOT, TestCluster } from './harness/cluster';
import { waitOp } from './harness/ops';

// The scheduler through the real gRPC API of a real manager process with its real SQLite file;
// the nodes are simulated agents (real gRPC servers that register and heartbeat, without
// Docker), so the fleet can be larger than this machine.
const G = 1024 ** 3;
const shape = { cpuMillis: 1000, memoryBytes: 1 * G, diskBytes: 1 * G };
const run = promisify(execFile);

async function status(p: Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await p;
    return { code: 'OK', details: '' };
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: grpc.status[e.code]!, details: e.details };
  }
}

async function startFleet(cluster: TestCluster, specs: FakeNodeSpec[]): Promise<FakeAgent[]> {
  const agents = await Promise.all(specs.map((s) => new FakeAgent({ ...s, name: cluster.nodeName(s.name) }, cluster.managerAddress).start()));
  await cluster.waitForNodes();
  const { nodes } = await cluster.portal.listNodes({});
  expect(nodes.map((n) => n.name).sort()).toEqual(agents.map((a) => a.spec.name).sort());
  return agents;
}

describe('200 concurrent creates against nodes that fit exactly 150', () => {
  const cluster = new TestCluster();
  let agents: FakeAgent[] = [];
  // Each node runs out of a different resource after exactly 30 instances of 1 CPU/1G/1G.
  const specs = [
    { name: 'cpu', cpuMillis: 30_000, memoryBytes: 1000 * G, disks: [1000 * G], ports: [20001, 20100] as [number, number] },
    { name: 'mem', cpuMillis: 100_000, memoryBytes: 30 * G, disks: [1000 * G], ports: [20101, 20200] as [number, number] },
    { name: 'disk', cpuMillis: 100_000, memoryBytes: 1000 * G, disks: [30 * G], ports: [20201, 20300] as [number, number] },
    { name: 'disks', cpuMillis: 100_000, memoryBytes: 1000 * G, disks: [15 * G, 15.5 * G], ports: [20301, 20400] as [number, number] },
    { name: 'ports', cpuMillis: 100_000, memoryBytes: 1000 * G, disks: [1000 * G], ports: [20401, 20430] as [number, number] },
  ];

  beforeAll(async () => {
    await cluster.start([]);
    agents = await startFleet(cluster, specs);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await cluster.stop();
  });

  it('places exactly 150, refuses 50 with RESOURCE_EXHAUSTED, and no node goes over in any resource', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        cluster.portal.createInstance({ name: `load-${i}`, resources: shape }, 30_000).then(
          (r) => ({ ok: true as const, r }),
          (e: grpc.ServiceError) => ({ ok: false as const, code: e.code, details: e.details }),
        ),
      ),
    );
    const placed = results.filter((x) => x.ok);
    const refused = results.filter((x) => !x.ok);
    expect(placed).toHaveLength(150);
    expect(refused).toHaveLength(50);
    for (const r of refused) {
      expect(grpc.status[r.code]).toBe('RESOURCE_EXHAUSTED');
      expect(r.details).toMatch(/^0\/5 nodes can take it: /);
    }
    // Once full, every node says what it ran out of.
    const last = await status(cluster.portal.createInstance({ name: 'one-more', resources: shape }));
    expect(last).toEqual({ code: 'RESOURCE_EXHAUSTED', details: '0/5 nodes can take it: 2 no data disk with 1G free, 1 insufficient cpu, 1 insufficient memory, 1 no free port' });

    // The manager's own SQLite file agrees: 30 per node, within every capacity, no port twice.
    const db = new Database(path.join(cluster.dir, 'manager', 'berth.db'), { readonly: true, fileMustExist: true });
    try {
      const perNode = db
        .prepare('SELECT node, COUNT(*) AS n, SUM(cpu_millis) AS cpu, SUM(memory_bytes) AS mem, COUNT(DISTINCT port) AS ports FROM instances GROUP BY node ORDER BY node')
        .all() as { node: string; n: number; cpu: number; mem: number; ports: number }[];
      expect(perNode.map((r) => [r.node, r.n, r.ports])).toEqual(specs.map((s) => [cluster.nodeName(s.name), 30, 30]).sort());
      for (const r of perNode) {
        const s = specs.find((x) => cluster.nodeName(x.name) === r.node)!;
        expect(r.cpu).toBeLessThanOrEqual(s.cpuMillis);
        expect(r.mem).toBeLessThanOrEqual(s.memoryBytes);
        const disks = db.prepare('SELECT disk_path AS path, SUM(disk_bytes) AS used FROM instances WHERE node = ? GROUP BY disk_path').all(r.node) as { path: string; used: number }[];
        for (const d of disks) {
          const size = s.disks[Number(/data(\d+)$/.exec(d.path)![1]) - 1]!;
          expect(d.used).toBeLessThanOrEqual(size);
        }
        const ports = (db.prepare('SELECT port FROM instances WHERE node = ?').all(r.node) as { port: number }[]).map((p) => p.port);
        expect(ports.every((p) => p >= s.ports[0] && p <= s.ports[1])).toBe(true);
      }
    } finally {
      db.close();
    }

    // The placed instances really go through their operations to running on the (fake) agents.
    const ops = await Promise.all(placed.map((p) => waitOp(cluster, p.r.operation!.id)));
    expect(ops.filter((o) => o.state !== 'succeeded')).toEqual([]);
    expect(agents.reduce((n, a) => n + a.instances.size, 0)).toBe(150);
  });
});

describe('constraints, anti-affinity, strategies and plan through the API and berthctl', () => {
  const cluster = new TestCluster();
  let agents: FakeAgent[] = [];
  const node = (zone: string, rack: string, extra: Record<string, string> = {}) => ({
    name: `${zone}-${rack}`,
    cpuMillis: 16_000,
    memoryBytes: 64 * G,
    disks: [500 * G],
    ports: [21001, 21099] as [number, number],
    labels: { zone, rack, ...extra },
  });
  const specs = [node('a', 'r1', { disk: 'ssd' }), node('a', 'r2'), node('b', 'r3', { disk: 'ssd' }), node('c', 'r4')];
  const n = (s: string) => cluster.nodeName(s);
  const ctl = (...args: string[]) => run(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, ...args]);

  beforeAll(async () => {
    await cluster.start([]);
    agents = await startFleet(cluster, specs);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await cluster.stop();
  });

  const create = (name: string, extra: Record<string, unknown> = {}) => cluster.portal.createInstance({ name, resources: shape, ...extra });

  it('hard label constraints decide the node', async () => {
    expect((await create('c1', { constraints: ['zone=b'] })).instance!.node).toBe(n('b-r3'));
    expect((await create('c2', { constraints: ['disk=ssd', 'zone!=b'] })).instance!.node).toBe(n('a-r1'));
    expect((await create('c3', { constraints: ['zone in (b, c)', 'rack notin (r3)'] })).instance!.node).toBe(n('c-r4'));
    expect(await status(create('c4', { constraints: ['zone=d'] }))).toEqual({ code: 'RESOURCE_EXHAUSTED', details: '0/4 nodes can take it: 4 constraint zone=d not met' });
  });

  it('a soft constraint is preferred, then dropped when no node meets it', async () => {
    expect((await create('s1', { constraints: ['~zone=c'] })).instance!.node).toBe(n('c-r4'));
    const r = await create('s2', { constraints: ['~zone=d', 'rack=r2'] });
    expect(r.instance!.node).toBe(n('a-r2'));
  });

  it('bad constraint syntax, spread_over or strategy: INVALID_ARGUMENT and nothing changes', async () => {
    const before = (await cluster.portal.listInstances({})).instances.map((i) => i.id).sort();
    for (const [req, msg] of [
      [{ constraints: ['zone = = a'] }, /constraint "zone = = a" is not valid/],
      [{ constraints: ['zone in a,b'] }, /is not valid/],
      [{ cluster: 'g', spreadOver: 'Rack!' }, /spread_over/],
      [{ spreadOver: 'rack' }, /spread_over needs a cluster/],
      [{ strategy: 'fastest' }, /unknown strategy "fastest"/],
      [{ cluster: 'Not A Name' }, /cluster/],
    ] as const) {
      const s = await status(create('bad', req));
      expect(s.code).toBe('INVALID_ARGUMENT');
      expect(s.details).toMatch(msg);
    }
    expect((await cluster.portal.listInstances({})).instances.map((i) => i.id).sort()).toEqual(before);
  });

  it('members of one cluster never share a host, and spread over zones hard or soft', async () => {
    const hosts: string[] = [];
    for (let i = 0; i < 3; i++) hosts.push((await create(`z${i}`, { cluster: 'orders', spreadOver: 'zone' })).instance!.node);
    // One per zone, whatever the load says.
    expect(new Set(hosts.map((h) => agents.find((a) => a.spec.name === h)!.spec.labels!.zone))).toEqual(new Set(['a', 'b', 'c']));
    expect(await status(create('z3', { cluster: 'orders', spreadOver: 'zone' }))).toEqual({
      code: 'RESOURCE_EXHAUSTED',
      details: '0/4 nodes can take it: 3 cluster member already on host, 1 cluster member already in zone',
    });
    // Soft: the fourth goes to the one host without a member, in an occupied zone.
    const fourth = await create('z3', { cluster: 'orders', spreadOver: '~zone' });
    expect(hosts).not.toContain(fourth.instance!.node);
    expect(fourth.instance!.cluster).toBe('orders');
    // Anti-affinity is never relaxed: a fifth member has no host left.
    expect((await status(create('z4', { cluster: 'orders', spreadOver: '~zone' }))).details).toBe('0/4 nodes can take it: 4 cluster member already on host');
  });

  it('the strategy can be chosen per request', async () => {
    const cpuOf = async () => Object.fromEntries((await cluster.portal.listNodes({})).nodes.map((x) => [x.name, x.allocated!.cpuMillis]));
    // Two more on c-r4 make the loads unequal whatever ran before: binpack and spread must differ.
    for (const name of ['imb1', 'imb2']) await create(name, { node: n('c-r4') });
    let cpu = await cpuOf();
    const max = Math.max(...Object.values(cpu));
    expect(max).toBeGreaterThan(Math.min(...Object.values(cpu)));
    const packed = (await create('bp', { strategy: 'binpack' })).instance!.node;
    expect(cpu[packed]).toBe(max);
    cpu = await cpuOf();
    const spreadTo = (await create('sp', { strategy: 'spread' })).instance!.node;
    expect(cpu[spreadTo]).toBe(Math.min(...Object.values(cpu)));
  });

  it('PlanInstance gives every node its verdict and places nothing', async () => {
    // Its own cluster, with a member on each zone a and b host, so none of them can take another.
    for (const host of ['a-r1', 'a-r2', 'b-r3']) await create(`pm-${host}`, { cluster: 'planned', node: n(host) });
    const before = (await cluster.portal.listNodes({})).nodes.map((x) => [x.name, x.allocated, x.instanceCount]);
    const plan = await cluster.portal.planInstance({ resources: shape, constraints: ['zone in (a,b)'], cluster: 'planned' });
    const byNode = Object.fromEntries(plan.verdicts.map((v) => [v.node, v]));
    expect(Object.keys(byNode).sort()).toEqual(specs.map((s) => n(s.name)).sort());
    expect(byNode[n('c-r4')]).toMatchObject({ fits: false, filter: 'labels', reason: 'constraint zone in (a,b) not met' });
    const fits = plan.verdicts.filter((v) => v.fits);
    for (const v of plan.verdicts.filter((x) => !x.fits && x.node !== n('c-r4'))) expect(v).toMatchObject({ filter: 'anti-affinity', reason: 'cluster member already on host' });
    expect(fits).toHaveLength(0);
    expect(plan.placement).toBeNull();
    expect(plan.message).toBe('0/4 nodes can take it: 3 cluster member already on host, 1 constraint zone in (a,b) not met');

    const ok = await cluster.portal.planInstance({ resources: shape, strategy: 'binpack' });
    expect(ok.strategy).toBe('binpack');
    expect(ok.verdicts.every((v) => v.fits && v.score > 0)).toBe(true);
    const best = [...ok.verdicts].sort((a, b) => b.score - a.score)[0]!;
    expect(ok.placement!.node).toBe(best.node);
    expect(ok.verdicts.filter((v) => v.chosen).map((v) => v.node)).toEqual([ok.placement!.node]);
    // A create with the same request lands where the plan said.
    expect((await create('as-planned', { strategy: 'binpack' })).instance!.node).toBe(ok.placement!.node);
    expect((await cluster.portal.listNodes({})).nodes.map((x) => [x.name, x.instanceCount]).reduce((s, [, c]) => s + (c as number), 0)).toBe(
      before.reduce((s, [, , c]) => s + (c as number), 0) + 1,
    );
  });

  it('berthctl instance plan prints the verdicts; create takes the placement flags', async () => {
    const { stdout } = await ctl('instance', 'plan', '--cpu', '1', '--memory', '1G', '--disk', '1G', '--constraint', 'zone=a', '--strategy', 'spread');
    const lines = stdout.trim().split('\n').map((l) => l.trim());
    expect(lines[0]).toMatch(/^NODE\s+VERDICT\s+SCORE \/ REASON/);
    for (const s of ['b-r3', 'c-r4']) expect(lines.find((l) => l.startsWith(n(s)))).toMatch(/rejected by labels\s+constraint zone=a not met/);
    for (const s of ['a-r1', 'a-r2']) expect(lines.find((l) => l.startsWith(n(s)))).toMatch(/fits\s+\d+\.\d\d/);
    expect(lines.at(-1)).toMatch(new RegExp(`^would place on ${n('a-r\\d')} \\(127\\.0\\.0\\.1:\\d+, /fake/.*\\) by spread$`));

    const json = JSON.parse((await ctl('--json', 'instance', 'plan', '--cpu', '64', '--memory', '1G', '--disk', '1G')).stdout.trim() || '{}') as { message?: string };
    expect(json.message).toBe('0/4 nodes can take it: 4 insufficient cpu');

    const none = await ctl('instance', 'plan', '--cpu', '1', '--memory', '1G', '--disk', '1G', '--constraint', 'zone=d').catch((e: { code: number; stdout: string }) => e);
    expect((none as { code: number }).code).toBe(2);
    expect((none as { stdout: string }).stdout).toMatch(/0\/4 nodes can take it: 4 constraint zone=d not met/);

    const made = JSON.parse((await ctl('--json', 'instance', 'create', '--name', 'from-cli', '--cpu', '1', '--memory', '1G', '--disk', '1G', '--constraint', 'zone=c', '--cluster', 'cli', '--spread-over', 'rack')).stdout) as { node: string };
    expect(made.node).toBe(n('c-r4'));
    const bad = await ctl('instance', 'plan', '--cpu', '1', '--memory', '1G', '--disk', '1G', '--constraint', 'zone ~ a').catch((e: { code: number; stderr: string }) => e);
    // 1: the manager refused the request; 2 (above): the request was fine and nothing fits.
    expect((bad as { code: number }).code).toBe(1);
    expect((bad as { stderr: string }).stderr).toMatch(/INVALID_ARGUMENT: constraint "zone ~ a" is not valid/);
  });
});

describe('manager flags: default strategy and instance limit', () => {
  const cluster = new TestCluster(['--strategy', 'binpack', '--max-instances-per-node', '2']);
  let agents: FakeAgent[] = [];
  beforeAll(async () => {
    await cluster.start([]);
    agents = await startFleet(cluster, [
      { name: 'x', cpuMillis: 16_000, memoryBytes: 64 * G, disks: [500 * G], ports: [22001, 22099] },
      { name: 'y', cpuMillis: 16_000, memoryBytes: 64 * G, disks: [500 * G], ports: [22001, 22099] },
    ]);
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await cluster.stop();
  });

  it('packs onto one node until the limit, then the next, then refuses', async () => {
    const nodes: string[] = [];
    for (let i = 0; i < 4; i++) nodes.push((await cluster.portal.createInstance({ name: `p${i}`, resources: shape })).instance!.node);
    expect(nodes[0]).toBe(nodes[1]);
    expect(nodes[2]).toBe(nodes[3]);
    expect(nodes[2]).not.toBe(nodes[0]);
    expect(await status(cluster.portal.createInstance({ name: 'p4', resources: shape }))).toEqual({ code: 'RESOURCE_EXHAUSTED', details: '0/2 nodes can take it: 2 node at its instance limit' });
  });
});
