import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { screenshot, withBrowser } from '../../test/harness/browser';
import { createLogger } from '../../src/log';
import { computeCapacity } from '../capacity/compute';
import { FitPool } from '../capacity/fit-pool';
import { CapacityRecorder } from '../capacity/history';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { UsageMap } from '../state/usage';
import type { ApplyRouterResponse__Output } from '../../src/gen/berth/v1/ApplyRouterResponse';
import type { TargetStatus } from '../backups/status';
import type { CapacitySample } from '../store/capacity-history';
import { Store } from '../store/index';
import { buildAdminServer } from './server';

const G = 1024 ** 3;
const HOUR = 3_600_000;
const DAYS = 90;

// A simulated 90-day history (a point an hour, memory allocation growing 0.25 GiB a day
// with noise) behind the real admin server: the dashboard plots all of it in headless Chromium, and
// the forecast reads the growth off its last two weeks: 7 more 4 GiB instances fit, taken at
// 1/16 of one a day, so the first refusal is about 112 days away.
// Two policy targets as the backup scheduler reports them: one verified by its last drill, one
// whose last drill failed (the dashboard lists it first).
const status = (target: string, outcome: string, restore: number, verified: string): TargetStatus => ({
  target, policy: 'fleet:', policySince: '2026-12-01T00:00:00.000Z', schedule: '0 2 * * *', drillSchedule: '0 5 * * *',
  lastBackup: { id: `b-${target.length}`, status: 'complete', createdAt: '2026-12-07T02:10:00.000Z' }, completeBackups: 3,
  lastDrillRestoreSeconds: restore, lastDrillOutcome: outcome, lastDrillAt: '2026-12-07T05:00:00.000Z', lastVerifiedAt: verified,
  nextBackupAt: '2026-12-08T02:10:00.000Z', nextDrillAt: '2026-12-08T05:00:00.000Z',
});
const BACKUPS = [status('instance:billing', 'verified', 42.4, '2026-12-07T05:03:00.000Z'), status('cluster:orders', 'failed', 0, '')];

describe('dashboard: 90 days of capacity history and the forecast from it, backups and drills, endpoints', () => {
  const store = new Store(Store.open(':memory:').db);
  const base = { host: '127.0.0.1', cpuMillis: 16000, memoryBytes: 32 * G, portMin: 3301, portMax: 3399, busyPorts: [], agentVersion: '', dockerVersion: '' };
  store.nodes.register({ ...base, name: 'h1', agentAddress: 'x:1', labels: { zone: 'a' }, lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 500 * G, freeBytes: 500 * G }] });
  store.instances.insert({ id: 'i-0000000001', name: 'db1', serverId: 1, node: 'h1', diskPath: '/d', port: 3301, cpuMillis: 1000, memoryBytes: 4 * G, diskBytes: 20 * G, image: 'x', state: 'running', adminUser: 'admin', adminPassword: 'pw' });
  const snapshot = Snapshot.fromStore(store.nodes.all(), store.instances.all());
  const recorder = new CapacityRecorder({ store, report: () => computeCapacity(snapshot.nodes(), store.instances.all(), new UsageMap(), DEFAULT_SCHEDULER_CONFIG, Date.now()), nodes: () => snapshot.nodes(), scheduler: DEFAULT_SCHEDULER_CONFIG, pool: new FitPool(), log: createLogger('test', 'silent') });
  let app: FastifyInstance;
  let url: string;
  const routerStats = new Map<string, ApplyRouterResponse__Output['stats']>();
  const now = Math.floor(Date.now() / HOUR) * HOUR;
  const points = DAYS * 24;

  beforeAll(async () => {
    // A fixed pseudo-random wobble of ±0.25 GiB, so the trend has an error to report.
    let seed = 7;
    const wobble = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.5 * G;
    const samples: CapacitySample[] = [];
    for (let i = points - 1; i >= 0; i--) {
      const ageDays = (i * HOUR) / 86_400_000;
      const mem = 4 * G + (DAYS - ageDays) * 0.25 * G + wobble();
      const r = (capacity: number, allocated: number) => ({ capacity, allocated, used: allocated / 2 });
      for (const [scope, name] of [['fleet', ''], ['zone', 'a']] as const)
        samples.push({ at: new Date(now - i * HOUR).toISOString(), scope, name, cpu: r(16000, 1000), memory: r(32 * G, mem), disk: r(500 * G, 20 * G), instances: 1 });
    }
    store.capacityHistory.putMany('1h', samples);
    // Two endpoints of a cluster, as the router reported them: rw refusing (no ready server).
    store.endpoints.insert({ name: 'orders-rw', kind: 'rw', clusterName: 'orders', instanceId: '', node: 'h1', port: 4401 });
    store.endpoints.insert({ name: 'orders-ro', kind: 'ro', clusterName: 'orders', instanceId: '', node: 'h1', port: 4402 });
    const stat = (name: string, serversReady: number, currentSessions: number) => ({ name, status: 'OPEN', currentSessions, totalSessions: 9, bytesIn: 0, bytesOut: 0, errors: 0, serversReady });
    routerStats.set('h1', [stat('orders-ro', 2, 3), stat('orders-rw', 0, 0)]);
    // And the minute the manager is in (the series a forecast is made for come from the minutes).
    recorder.sample(Date.now());
    app = await buildAdminServer({ store, snapshot, usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, log: createLogger('test', 'silent'), token: 't', capacityHistory: recorder, backupStatus: () => BACKUPS, endpoints: { lastStats: routerStats } });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(() => app.close());

  it('plots every hourly point of 90 days, and forecasts the first refusal from the recent growth', async () => {
    const f = (await app.inject({ method: 'GET', url: '/v1/capacity/forecast', headers: { authorization: 'Bearer t' } })).json() as { forecasts: { scope: string; shapes: { fitsNow: number; days: number; low: number; high: number }[] }[] };
    const fleet = f.forecasts.find((x) => x.scope === 'fleet')!.shapes[0]!;
    expect(fleet.fitsNow).toBe(7);
    expect(fleet.days).toBeGreaterThan(100);
    expect(fleet.days).toBeLessThan(125);
    expect(fleet.low).toBeLessThanOrEqual(fleet.days);
    expect(fleet.high).toBeGreaterThanOrEqual(fleet.days);
    await withBrowser(async (browser) => {
      const page = await browser.newPage();
      await page.goto(`${url}/#token=t`);
      await page.waitForSelector('#chart90 svg polyline.line.memory', { timeout: 20_000 });
      expect(Number(await page.getAttribute('#chart90 polyline.line.memory', 'data-points'))).toBe(points);
      expect(await page.getAttribute('#chart90 svg', 'aria-label')).toBe('allocation over the last 90 days');
      // The day plot has the one minute sampled.
      expect(Number(await page.getAttribute('#chart polyline.line.memory', 'data-points'))).toBe(1);
      await page.waitForSelector('#forecast tr[data-scope="fleet"] .days', { timeout: 20_000 });
      expect(await page.textContent('#forecast tr[data-scope="fleet"] .days')).toMatch(new RegExp(`^${fleet.days} d \\(`));
      // Backups and drills: the failed drill first, then the verified one with its restore time.
      await page.waitForSelector('#backups tr.backup', { timeout: 20_000 });
      const rows = await page.$$eval('#backups tr.backup', (els) => els.map((e) => [e.getAttribute('data-target'), e.querySelector('.outcome')?.textContent, e.querySelector('.restore')?.textContent]));
      expect(rows).toEqual([['cluster:orders', 'failed', ''], ['instance:billing', 'verified', '42.4 s']]);
      // Endpoints: the one refusing clients first, then the ro one with its sessions.
      await page.waitForSelector('#endpoints tr.endpoint', { timeout: 20_000 });
      const eps = await page.$$eval('#endpoints tr.endpoint', (els) => els.map((e) => [e.getAttribute('data-endpoint'), e.classList.contains('closed'), e.querySelector('.ready')?.textContent]));
      expect(eps).toEqual([['orders-rw', true, '0'], ['orders-ro', false, '2']]);
      await screenshot(page, 'dashboard-90-days');
    });
  });
});
