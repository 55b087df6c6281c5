import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { screenshot, withBrowser } from './harness/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreateInstanceResponse__Output } from '../src/gen/berth/v1/CreateInstanceResponse';
import { docker, ROOT, TestCluster, waitUntil } from './harness/cluster';
import { expectOp } from './harness/ops';

const M = 1024 ** 2;
const G = 1024 ** 3;
const TOKEN = `it-${randomBytes(12).toString('hex')}`;
// 512M instances on agents offering 1G: two per node, so memory runs out first.
const shape = { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1 * G };
const INSTANCE_DISK_PCT = 60;

interface Notice {
  status: 'firing' | 'resolved';
  rule: string;
  subject: string;
  message: string;
}

// A webhook receiver on loopback that refuses the first delivery, to prove the retry.
class Receiver {
  requests = 0;
  notices: Notice[] = [];
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      this.requests++;
      if (this.requests === 1) {
        res.writeHead(500).end('try again');
        return;
      }
      this.notices.push((JSON.parse(body) as { alert: Notice }).alert);
      res.writeHead(200).end('ok');
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/alerts`;
  }
  stop(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('admin HTTP against a live manager and real agents', () => {
  const receiver = new Receiver();
  const loopDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-loop-'));
  const img = path.join(loopDir, 'disk.img');
  const mnt = path.join(loopDir, 'mnt');
  let cluster: TestCluster;
  const created: CreateInstanceResponse__Output[] = [];

  const api = async (url: string, init: { method?: string; token?: string | null } = {}) => {
    const headers: Record<string, string> = {};
    const token = init.token === undefined ? TOKEN : init.token;
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${cluster.adminUrl}${url}`, { method: init.method ?? 'GET', headers });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body };
  };
  const node = (suffix: string) => cluster.nodeName(suffix);
  const capacityOf = async (suffix: string) => ((await api('/v1/capacity')).body.nodes as any[]).find((n) => n.name === node(suffix));
  const firing = async (rule: string, subject: string) => ((await api(`/v1/alerts?rule=${rule}`)).body.items as any[]).some((a) => a.subject === subject);

  beforeAll(async () => {
    await receiver.start();
    // A small real filesystem for agent c, so "data disk almost full" is a real disk filling up.
    fs.mkdirSync(mnt);
    execFileSync('truncate', ['-s', '256M', img]);
    execFileSync('mkfs.ext4', ['-q', '-F', img]);
    execFileSync('mount', ['-o', 'loop', img, mnt]);
    cluster = new TestCluster([
      '--node-timeout', '5',
      '--admin-token', TOKEN,
      '--alert-webhook', receiver.url,
      '--alert-interval', '1',
      '--alert-disk-free-pct', '10',
      '--alert-instance-disk-pct', String(INSTANCE_DISK_PCT),
    ]);
    const fast = ['--usage-interval', '1', '--disk-usage-interval', '1'];
    await cluster.start([
      { name: 'a', host: '127.0.0.1', ports: '3601-3610', labels: { zone: 'a', rack: 'r1' }, cpus: '2', memory: '1G', args: fast },
      { name: 'b', host: '127.0.0.2', ports: '3611-3620', labels: { zone: 'b', rack: 'r1' }, cpus: '2', memory: '1G', args: fast },
      // Too little memory for the test shape: it holds the loop-mounted disk and takes no instances.
      { name: 'c', host: '127.0.0.3', ports: '3621-3630', labels: { zone: 'b', rack: 'r2' }, cpus: '1', memory: '256M', diskPaths: [mnt], args: fast },
    ]);
    await waitUntil('the admin server', async () => (await api('/healthz', { token: null })).status === 200);
  });

  afterAll(async () => {
    await cluster?.stop();
    await receiver.stop();
    try {
      execFileSync('umount', [mnt]);
    } catch {
      // not mounted
    }
    fs.rmSync(loopDir, { recursive: true, force: true });
  });

  it('asks for the token on /v1 (401) and checks parameters (400 naming the parameter)', async () => {
    expect((await api('/v1/capacity', { token: null })).status).toBe(401);
    expect((await api('/v1/capacity', { token: 'not-the-token' })).status).toBe(401);
    expect((await api('/v1/nodes/x/cordon', { method: 'POST', token: 'nope' })).status).toBe(401);
    // A public name in the query string or the path makes no /v1 route public.
    for (const q of ['?x=/docs/', '?x=/healthz', '?x=%2Fdocs%2F', '?x=/metrics']) {
      expect((await api(`/v1/nodes/${node('a')}/cordon${q}`, { method: 'POST', token: null })).status, q).toBe(401);
    }
    expect((await api('/v1/nodes/healthz', { token: null })).status).toBe(401);
    expect(((await api('/v1/nodes')).body.items as { name: string; cordoned: boolean }[]).filter((n) => n.cordoned)).toEqual([]);
    expect((await api('/healthz', { token: null })).status).toBe(200);
    expect((await api('/metrics', { token: null })).status).toBe(200);
    const bad = await api('/v1/capacity/fit?cpu=1&memory=lots&disk=1G');
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/"memory"/);
    expect((await api('/v1/instances?limit=5000')).body.error.message).toMatch(/"limit"/);
  });

  it('reports what the agents offer, per node, disk, zone and rack', async () => {
    const r = (await api('/v1/capacity')).body;
    expect(r.fleet.nodes).toEqual({ total: 3, ready: 3, down: 0, cordoned: 0 });
    expect(r.fleet.cpu.capacity).toBe(5000);
    expect(r.fleet.memory.capacity).toBe(2 * G + 256 * M);
    const a = await capacityOf('a');
    expect(a).toMatchObject({ zone: 'a', rack: 'r1', state: 'ready', schedulable: true, cpu: { capacity: 2000, allocated: 0, free: 2000 }, memory: { capacity: G, allocated: 0, free: G } });
    // The loop disk's size, as statfs tells it.
    const st = fs.statfsSync(mnt);
    const c = await capacityOf('c');
    expect(c.disks).toHaveLength(1);
    expect(c.disks[0]).toMatchObject({ path: mnt, totalBytes: st.blocks * st.bsize, allocatedBytes: 0 });
    expect(r.zones.map((z: any) => [z.zone, z.nodes.total])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(r.racks.map((x: any) => `${x.zone}/${x.rack}`)).toEqual(['a/r1', 'b/r1', 'b/r2']);
  });

  it('berthctl capacity prints the table and berthctl capacity fit the count', async () => {
    const ctl = (...args: string[]) => execFileSync(process.execPath, ['bin/berthctl.js', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, BERTH_ADMIN_TOKEN: '' } });
    const table = ctl('capacity', '--admin', cluster.adminUrl, '--token', TOKEN);
    expect(table).toMatch(/SCOPE\s+NODES\/STATE\s+CPU ALLOC\/CAP/);
    expect(table).toMatch(/fleet\s+3\/3 ready\s+0\/5 \(0%\)/);
    expect(table).toMatch(new RegExp(`${node('a')}\\s+ready\\s+0/2 \\(0%\\)\\s+0\\s+0/1G \\(0%\\)`));
    expect(table).toMatch(/zone b/);
    const fit = ctl('capacity', 'fit', '--cpu', '500m', '--memory', '512M', '--disk', '1G', '--admin', cluster.adminUrl, '--token', TOKEN);
    expect(fit).toMatch(/^4 more instances of 0\.5 cpu \/ 512M \/ 1G fit now; then memory runs out first/);
    const zoneA = ctl('--json', 'capacity', '--admin', cluster.adminUrl, '--token', TOKEN, 'fit', '--zone', 'a', '--cpu', '0.5', '--memory', '512M', '--disk', '1G');
    expect(JSON.parse(zoneA)).toMatchObject({ count: 2, perNode: { [node('a')]: 2 } });
    let err = '';
    try {
      ctl('capacity', '--admin', cluster.adminUrl, '--token', 'wrong');
    } catch (e) {
      err = String((e as { stderr: string }).stderr);
    }
    expect(err).toMatch(/401/);
  });

  // Everything below runs on the fleet this beforeAll makes: as many instances as fit predicted,
  // placed for real until the first rejection, all running.
  describe('after placing instances until the first rejection', () => {
    let predicted: { count: number; limitedBy: string; perNode: Record<string, number> };
    let predictedZoneA: { count: number };
    let rejection: grpc.ServiceError | undefined;

    beforeAll(async () => {
      predicted = (await api('/v1/capacity/fit?cpu=500m&memory=512M&disk=1G')).body.results[0];
      predictedZoneA = (await api('/v1/capacity/fit?shape=500m,512M,1G@a')).body.results[0];
      for (let i = 0; i < 10 && !rejection; i++) {
        try {
          created.push(await cluster.portal.createInstance({ name: `cap${i}`, resources: shape }));
        } catch (err) {
          rejection = err as grpc.ServiceError;
        }
      }
      for (const c of created) await expectOp(cluster, c.operation!.id, 'succeeded');
    });

    // A notice reached the webhook for the start and the end of this alert, and every delivery
    // was counted; the receiver refused the very first request, which was sent again.
    const expectDelivered = async (rule: string, subject: string) => {
      await waitUntil(`${rule} ${subject} resolved at the webhook`, async () => receiver.notices.some((n) => n.rule === rule && n.subject === subject && n.status === 'resolved'), 30_000);
      const seq = receiver.notices.filter((n) => n.rule === rule && n.subject === subject).map((n) => n.status);
      expect(seq, `${rule} ${subject} in ${JSON.stringify(receiver.notices, null, 1)}`).toEqual(['firing', 'resolved']);
      expect(receiver.requests).toBe(receiver.notices.length + 1);
      await waitUntil('the delivery metric to count every notice', async () => {
        const m = (await api('/metrics', { token: null })).body as string;
        return Number(/berth_alert_webhook_deliveries_total\{result="delivered"\} (\d+)/.exec(m)?.[1]) === receiver.notices.length;
      }, 10_000);
    };

    it('fit predicted exactly how many real placements succeed before the first rejection', async () => {
      expect(predicted).toMatchObject({ count: 4, limitedBy: 'memory', perNode: { [node('a')]: 2, [node('b')]: 2 } });
      expect(predictedZoneA.count).toBe(2);
      expect(created).toHaveLength(predicted.count);
      expect(rejection?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(rejection?.details).toMatch(/insufficient memory/);
      const placed: Record<string, number> = {};
      for (const c of created) placed[c.instance!.node] = (placed[c.instance!.node] ?? 0) + 1;
      expect(placed).toEqual(predicted.perNode);
      expect((await api('/v1/capacity/fit?cpu=500m&memory=512M&disk=1G')).body.results[0]).toMatchObject({ count: 0, limitedBy: 'memory' });
    });

    it('shows allocated and measured usage after placement, in the API and in /metrics', async () => {
      const a = await waitUntil(
        'measured memory and disk usage on node a',
        async () => {
          const n = await capacityOf('a');
          return n.memory.used > 0 && n.disks[0].instancesUsedBytes > 0 && n.instances.byState.running === 2 ? n : undefined;
        },
        30_000,
      );
      expect(a.memory).toMatchObject({ capacity: G, allocated: G, free: 0, allocationPct: 100 });
      expect(a.cpu).toMatchObject({ allocated: 1000, free: 1000, allocationPct: 50 });
      expect(a.disk.allocated).toBe(2 * G);
      // Two 512M MariaDB instances use some memory, and less than they reserved.
      expect(a.memory.used).toBeLessThan(G);
      const fleet = (await api('/v1/capacity')).body.fleet;
      expect(fleet.instances).toEqual({ total: 4, byState: { running: 4 } });
      expect(fleet.memory.free).toBe(256 * M); // only c has room left, and it is too small

      const list = await waitUntil('measurements of both instances on node b', async () => {
        const l = (await api(`/v1/instances?node=${node('b')}`)).body;
        return l.items.every((i: any) => i.usage?.usedDiskBytes > 0) ? l : undefined;
      });
      expect(list.total).toBe(2);
      for (const i of list.items) {
        expect(i.usage.usedDiskBytes).toBeGreaterThan(10 * M);
        expect(i.usage.mysqldUnresponsive).toBe(false);
      }

      // /metrics makes its capacity report at most every 5 s (a scrape before the placements
      // may still be served): wait for one made after them.
      const allocated = `berth_node_memory_allocated_bytes{node="${node('a')}",zone="a",rack="r1"} ${G}`;
      const m = await waitUntil('a /metrics report made after the placements', async () => {
        const body = (await api('/metrics', { token: null })).body as string;
        return body.includes(allocated) ? body : undefined;
      }, 15_000);
      expect(m).toContain(`berth_node_cpu_capacity_cores{node="${node('c')}",zone="b",rack="r2"} 1`);
      expect(m).toContain(`berth_instances{node="${node('b')}",state="running"} 2`);
      expect(m).toMatch(/berth_scheduler_duration_seconds_count\{result="placed"\} 4/);
      expect(m).toMatch(/berth_scheduler_duration_seconds_count\{result="unschedulable"\} 1/);
      expect(m).toMatch(/berth_operations_total\{type="create",result="succeeded"\} 4/);
      expect(m).toMatch(/berth_operation_duration_seconds_count\{type="create",result="succeeded"\} 4/);
      expect(m).toMatch(new RegExp(`berth_disk_free_bytes\\{node="${node('c')}",path="${mnt.replace(/[/.]/g, '\\$&')}"\\} \\d+`));
    });

    it('alerts when an instance outgrows its disk reservation, and resolves when it shrinks', async () => {
      const inst = created[0]!.instance!;
      const dataDir = path.join(inst.diskPath, 'berth', inst.id, 'data');
      const now = await waitUntil('a measurement of the instance', async () => {
        const i = (await api(`/v1/instances?node=${inst.node}`)).body.items.find((x: any) => x.id === inst.id);
        return i?.usage?.usedDiskBytes as number | undefined;
      });
      const filler = path.join(dataDir, 'filler.bin');
      const need = Math.ceil((INSTANCE_DISK_PCT / 100) * shape.diskBytes - now) + 64 * M;
      execFileSync('fallocate', ['-l', String(need), filler]);
      await waitUntil('instance_disk_high to fire', () => firing('instance_disk_high', inst.id), 30_000);
      fs.rmSync(filler);
      await waitUntil('instance_disk_high to resolve', async () => !(await firing('instance_disk_high', inst.id)), 30_000);
      await expectDelivered('instance_disk_high', inst.id);
      const ev = (await api(`/v1/events?kind=alert.instance_disk_high&subject=${inst.id}`)).body.items.map((e: any) => e.kind);
      expect(ev).toEqual(['alert.instance_disk_high.resolved', 'alert.instance_disk_high.firing']);
    });

    it('alerts when mysqld stops answering, and resolves when it answers again', async () => {
      const inst = created[1]!.instance!;
      const [c] = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.instance=${inst.id}`, 'berth.role=mysqld'] }) });
      const container = docker.getContainer(c!.Id);
      await container.kill({ signal: 'SIGSTOP' });
      try {
        await waitUntil('mysqld_unresponsive to fire', () => firing('mysqld_unresponsive', inst.id), 30_000);
      } finally {
        await container.kill({ signal: 'SIGCONT' });
      }
      await waitUntil('mysqld_unresponsive to resolve', async () => !(await firing('mysqld_unresponsive', inst.id)), 30_000);
      await expectDelivered('mysqld_unresponsive', inst.id);
    });

    it('alerts when a data disk runs low on free space', async () => {
      const subject = `${node('c')}:${mnt}`;
      const st = fs.statfsSync(mnt);
      const filler = path.join(mnt, 'filler.bin');
      // Leave 5% of the disk free.
      execFileSync('fallocate', ['-l', String(st.bavail * st.bsize - Math.floor(0.05 * st.blocks * st.bsize)), filler]);
      try {
        await waitUntil('disk_free_low to fire', () => firing('disk_free_low', subject), 30_000);
        const d = (await capacityOf('c')).disks[0];
        expect(d.freePct).toBeLessThan(10);
      } finally {
        fs.rmSync(filler);
      }
      await waitUntil('disk_free_low to resolve', async () => !(await firing('disk_free_low', subject)), 30_000);
      await expectDelivered('disk_free_low', subject);
    });

    it('marks a down node and a cordoned node, in the API and on the dashboard in headless Chromium', async () => {
      const b = cluster.agents.find((x) => x.node === node('b'))!;
      expect((await api(`/v1/nodes/${node('a')}/cordon`, { method: 'POST' })).body.cordoned).toBe(true);
      // Drain now migrates (test/drain.test.ts); an unknown node is refused.
      const drain = await api(`/v1/nodes/${node('zz')}/drain`, { method: 'POST' });
      expect(drain.status).toBe(404);
      await cluster.killAgent(b);
      await waitUntil('node_down to fire', () => firing('node_down', node('b')), 30_000);
      const cap = (await api('/v1/capacity')).body;
      expect(cap.fleet.nodes).toEqual({ total: 3, ready: 2, down: 1, cordoned: 1 });

      await withBrowser(async (browser) => {
        const page = await browser.newPage();
        await page.goto(`${cluster.adminUrl}/#token=${TOKEN}`);
        await page.waitForSelector(`section.node[data-node="${node('c')}"]`, { timeout: 20_000 });
        const cards = await page.$$eval('section.node', (els) =>
          els.map((e) => ({
            name: e.getAttribute('data-node'),
            state: e.getAttribute('data-state'),
            cordoned: e.getAttribute('data-cordoned'),
            count: e.querySelector('.count')?.textContent,
            badges: [...e.querySelectorAll('.badge')].map((x) => x.textContent),
            bars: e.querySelectorAll('svg rect.alloc').length,
          })),
        );
        expect(cards).toEqual([
          { name: node('a'), state: 'ready', cordoned: 'true', count: '2', badges: ['ready', 'CORDONED'], bars: 3 },
          { name: node('b'), state: 'down', cordoned: 'false', count: '2', badges: ['DOWN'], bars: 3 },
          { name: node('c'), state: 'ready', cordoned: 'false', count: '0', badges: ['ready'], bars: 3 },
        ]);
        // The memory bar of node a is full: 1G of 1G allocated.
        const width = await page.$eval(`section.node[data-node="${node('a')}"] .res:nth-of-type(3) rect.alloc`, (r) => r.getAttribute('width'));
        expect(width).toBe('100.00');
        expect(await page.textContent('#summary')).toMatch(/3 nodes \(2 ready, 1 down, 1 cordoned\) · 4 instances/);
        // Critical alerts stand above the nodes as problems (a cluster without a writable
        // primary would come first): here the down node's.
        await page.waitForSelector(`#problems .problem[data-rule="node_down"][data-subject="${node('b')}"]`, { timeout: 20_000 });
        expect(await page.textContent(`#problems .problem[data-rule="node_down"]`)).toMatch(new RegExp(`^PROBLEM node_down · ${node('b')}: `));
        // It refreshes by itself: uncordon a and watch the badge go.
        await api(`/v1/nodes/${node('a')}/uncordon`, { method: 'POST' });
        await page.waitForSelector(`section.node[data-node="${node('a')}"][data-cordoned="false"]`, { timeout: 15_000 });
        await api(`/v1/nodes/${node('a')}/cordon`, { method: 'POST' });
        await page.waitForSelector(`section.node[data-node="${node('a')}"][data-cordoned="true"]`, { timeout: 15_000 });
        // Above the nodes: the fleet's allocation over time (a point a minute since the manager
        // started), the forecast for its common shape (4 instances of one shape: how many more
        // fit, by the real scheduler), and the operations in flight (none now).
        await page.waitForSelector('#chart svg polyline.line.memory', { timeout: 20_000 });
        expect(Number(await page.getAttribute('#chart polyline.line.memory', 'data-points'))).toBeGreaterThanOrEqual(1);
        await page.waitForSelector('#forecast tr[data-scope="fleet"]', { timeout: 20_000 });
        const fleetFits = (await page.textContent('#forecast tr[data-scope="fleet"] .fits'))!;
        // The fleet is full (placed until the first rejection): the forecast's count is the
        // scheduler's own fit of that shape.
        const fc = (await api('/v1/capacity/forecast')).body as { forecasts: { scope: string; shapes: { fitsNow: number; shape: { cpuMillis: number; memoryBytes: number; diskBytes: number } }[] }[] };
        const fleetShape = fc.forecasts.find((x) => x.scope === 'fleet')!.shapes[0]!;
        const fit = (await api(`/v1/capacity/fit?cpu=${fleetShape.shape.cpuMillis}m&memory=${fleetShape.shape.memoryBytes}&disk=${fleetShape.shape.diskBytes}`)).body as { results: { count: number }[] };
        expect(fleetFits).toBe(String(fit.results[0]!.count));
        expect(fleetShape.fitsNow).toBe(fit.results[0]!.count);
        expect(await page.textContent('#ops')).toBe('none');
        await screenshot(page, 'dashboard');

        // Without a token the page asks for one instead of showing data.
        const anon = await browser.newPage();
        await anon.goto(`${cluster.adminUrl}/`);
        await anon.evaluate(() => sessionStorage.clear());
        await anon.reload();
        await anon.waitForSelector('#login:not([hidden])', { timeout: 10_000 });
        expect(await anon.$$('section.node')).toHaveLength(0);
      });

      cluster.startAgent(b);
      await waitUntil('node_down to resolve', async () => !(await firing('node_down', node('b'))), 60_000);
      await expectDelivered('node_down', node('b'));
      await api(`/v1/nodes/${node('a')}/uncordon`, { method: 'POST' });
    });

  });
});
