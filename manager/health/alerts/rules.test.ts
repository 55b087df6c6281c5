import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log';
import { Snapshot } from '../../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../../scheduler/types';
import type { InstanceRow } from '../../store/instances';
import type { NodeRow } from '../../store/nodes';
import { UsageMap } from '../../state/usage';
import { AlertManager, diffAlerts } from './manager';
import { DEFAULT_RULES } from './rules/index';
import { DEFAULT_THRESHOLDS, type HealthState } from './types';
import { WebhookSender } from './webhook';

const G = 1024 ** 3;
const now = 5_000_000;
const log = createLogger('test', 'silent');

const nodeRow = (name: string, over: Partial<NodeRow> = {}): NodeRow => ({
  name,
  agentAddress: '',
  host: '127.0.0.1',
  labels: {},
  cpuMillis: 4000,
  memoryBytes: 8 * G,
  portMin: 3301,
  portMax: 3310,
  busyPorts: [],
  cordoned: false,
  agentVersion: '',
  dockerVersion: '',
  registeredAt: '',
  lastHeartbeatMs: now,
  disks: [{ path: '/data1', totalBytes: 100 * G, freeBytes: 50 * G }],
  ...over,
});

const inst = (id: string, node: string, over: Partial<InstanceRow> = {}) =>
  ({ id, name: `n-${id}`, node, diskPath: '/data1', port: 3301, cpuMillis: 500, memoryBytes: G, diskBytes: 10 * G, state: 'running', ...over }) as InstanceRow;

function state(nodes: NodeRow[], instances: InstanceRow[], usage = new UsageMap(), t = now): HealthState {
  return { now: t, nodes: [...Snapshot.fromStore(nodes, []).nodes()], instances, usage, scheduler: DEFAULT_SCHEDULER_CONFIG, thresholds: DEFAULT_THRESHOLDS };
}

const fire = (s: HealthState) => DEFAULT_RULES.flatMap((r) => r.evaluate(s)).map((f) => `${f.rule} ${f.subject}`);

const used = (usage: UsageMap, id: string, node: string, disk: number, unresponsive = false) =>
  usage.set(id, { node, usedDiskBytes: disk, usedMemoryBytes: 0, usedCpuMillis: 0, mysqldUnresponsive: unresponsive, measuredAtMs: now, receivedAtMs: now });

describe('alert rules (pure)', () => {
  it('a healthy fleet fires nothing', () => {
    const usage = new UsageMap();
    used(usage, 'i1', 'a', 5 * G);
    expect(fire(state([nodeRow('a')], [inst('i1', 'a')], usage))).toEqual([]);
  });

  it('node down: no heartbeat past the node timeout', () => {
    expect(fire(state([nodeRow('a'), nodeRow('b', { lastHeartbeatMs: now - 16_000 })], []))).toEqual(['node_down b']);
  });

  it('data disk free below the threshold, on live nodes only', () => {
    const low = { disks: [{ path: '/data1', totalBytes: 100 * G, freeBytes: 9 * G }] };
    expect(fire(state([nodeRow('a', low), nodeRow('d', { ...low, lastHeartbeatMs: 0 })], []))).toEqual(['node_down d', 'disk_free_low a:/data1']);
  });

  it('instance disk above its share of the reservation', () => {
    const usage = new UsageMap();
    used(usage, 'i1', 'a', 9.5 * G);
    used(usage, 'i2', 'a', 8 * G);
    expect(fire(state([nodeRow('a')], [inst('i1', 'a'), inst('i2', 'a')], usage))).toEqual(['instance_disk_high i1']);
  });

  it('mysqld not answering on a running instance; not while it is being created, nor on a down node', () => {
    const usage = new UsageMap();
    for (const id of ['i1', 'i2', 'i3']) used(usage, id, id === 'i3' ? 'd' : 'a', G, true);
    const s = state([nodeRow('a'), nodeRow('d', { lastHeartbeatMs: 0 })], [inst('i1', 'a'), inst('i2', 'a', { state: 'creating' }), inst('i3', 'd')], usage);
    expect(fire(s)).toEqual(['node_down d', 'mysqld_unresponsive i1']);
  });

  it('capacity runway: a zone whose common shape runs out within the threshold (critical within a quarter of it); not when it does not grow', () => {
    const runway = (days: number | null, name: string) => ({
      scope: 'zone' as const, name, windowDays: 14,
      growth: { cpu: { perDay: 0, stderrPerDay: 0, samples: 300 }, memory: { perDay: 5 * G, stderrPerDay: G, samples: 300 }, disk: { perDay: 0, stderrPerDay: 0, samples: 300 } },
      shapes: [{ shape: { cpuMillis: 1000, memoryBytes: 4 * G, diskBytes: 20 * G, zone: name }, fitsNow: 40, truncated: false, limitedBy: 'memory' as const, perDay: 1.2, days, low: days && Math.round(days * 8) / 10, high: days && Math.round(days * 13) / 10 }],
    });
    const s = { ...state([nodeRow('a')], []), capacityRunway: [runway(30, 'a'), runway(9, 'b'), runway(2, 'c'), runway(null, 'd')] };
    const got = DEFAULT_RULES.flatMap((r) => r.evaluate(s)).filter((f) => f.rule === 'capacity_runway_low');
    expect(got.map((f) => `${f.subject} ${f.severity}`)).toEqual(['zone:b 1 cpu/4G/20G warning', 'zone:c 1 cpu/4G/20G critical']);
    expect(got[0]!.message).toBe('zone b: 40 more 1 cpu/4G/20G instances fit now (memory runs out first); at the growth of the last 14 days (1.2 of them a day) the first is refused in 9 days (between 7.2 and 11.7): add hosts to zone b');
    expect(DEFAULT_RULES.flatMap((r) => r.evaluate({ ...s, thresholds: { ...s.thresholds, capacityRunwayDays: 0 } })).filter((f) => f.rule === 'capacity_runway_low')).toEqual([]);
  });

  it('diffAlerts: starts new alerts once, resolves the ones gone', () => {
    const f = (subject: string) => ({ rule: 'node_down', subject, severity: 'critical' as const, message: subject });
    const active = new Map([['node_down/a', { ...f('a'), startsAt: 't0' }]]);
    const d = diffAlerts(active, [f('b'), f('b')], 't1');
    expect(d.started.map((a) => [a.subject, a.startsAt])).toEqual([['b', 't1']]);
    expect(d.resolved.map((a) => a.subject)).toEqual(['a']);
  });
});

describe('AlertManager and the webhook', () => {
  let server: http.Server;
  let url = '';
  const received: { status: string; rule: string; subject: string }[] = [];
  let requests = 0;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        requests++;
        // The first delivery fails: the sender must retry it.
        if (requests === 1) {
          res.writeHead(503).end('not now');
          return;
        }
        received.push((JSON.parse(body) as { alert: { status: string; rule: string; subject: string } }).alert);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('records a start and a resolve as events and delivers both, retrying a failed delivery', async () => {
    const webhook = new WebhookSender({ url, attempts: 3, backoffMs: 10, maxBackoffMs: 50, timeoutMs: 2000 }, log);
    const events: string[] = [];
    let hb = now;
    const nodes = () => [nodeRow('a', { lastHeartbeatMs: hb })];
    const am = new AlertManager(DEFAULT_RULES, () => state(nodes(), []), (kind, subject) => events.push(`${kind} ${subject}`), webhook, log);

    expect(am.evaluate().started).toEqual([]);
    hb = now - 60_000;
    expect(am.evaluate().started.map((a) => a.subject)).toEqual(['a']);
    expect(am.evaluate().started).toEqual([]); // still firing: no second start
    expect(am.firing().map((a) => a.rule)).toEqual(['node_down']);
    hb = now;
    expect(am.evaluate().resolved.map((a) => a.subject)).toEqual(['a']);
    expect(am.firing()).toEqual([]);
    await webhook.flush();

    expect(events).toEqual(['alert.node_down.firing a', 'alert.node_down.resolved a']);
    expect(requests).toBe(3);
    expect(received.map((r) => `${r.status} ${r.rule} ${r.subject}`)).toEqual(['firing node_down a', 'resolved node_down a']);
    expect([webhook.delivered, webhook.failed]).toEqual([2, 0]);
  });

  it('gives up after the configured attempts', async () => {
    const dead = new WebhookSender({ url: 'http://127.0.0.1:1/none', attempts: 3, backoffMs: 5, maxBackoffMs: 10, timeoutMs: 500 }, log);
    const d = await dead.send({ x: 1 });
    expect(d).toMatchObject({ ok: false, attempts: 3 });
    expect(dead.failed).toBe(1);
  });
});
