import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../src/log';
import { computeCapacity } from '../capacity/compute';
import { FitPool } from '../capacity/fit-pool';
import { CapacityRecorder } from '../capacity/history';
import { Snapshot } from '../scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { UsageMap } from '../state/usage';
import { Store } from '../store/index';
import { buildAdminServer } from './server';

const G = 1024 ** 3;
const auth = { authorization: 'Bearer t' };

// GET /v1/capacity/history and /v1/capacity/forecast on a store with an hour of samples.
describe('admin HTTP: capacity history and forecast', () => {
  const store = new Store(Store.open(':memory:').db);
  const base = { host: '127.0.0.1', cpuMillis: 16000, memoryBytes: 32 * G, portMin: 3301, portMax: 3399, busyPorts: [], agentVersion: '', dockerVersion: '' };
  store.nodes.register({ ...base, name: 'a1', agentAddress: 'x:1', labels: { zone: 'a' }, lastHeartbeatMs: Date.now(), disks: [{ path: '/d', totalBytes: 500 * G, freeBytes: 500 * G }] });
  store.instances.insert({ id: 'i-0000000001', name: 'db1', serverId: 1, node: 'a1', diskPath: '/d', port: 3301, cpuMillis: 1000, memoryBytes: 4 * G, diskBytes: 20 * G, image: 'x', state: 'running', adminUser: 'admin', adminPassword: 'pw' });
  const snapshot = Snapshot.fromStore(store.nodes.all(), store.instances.all());
  const recorder = new CapacityRecorder({ store, report: () => computeCapacity(snapshot.nodes(), store.instances.all(), new UsageMap(), DEFAULT_SCHEDULER_CONFIG, Date.now()), nodes: () => snapshot.nodes(), scheduler: DEFAULT_SCHEDULER_CONFIG, pool: new FitPool(), log: createLogger('test', 'silent') });
  let app: FastifyInstance;
  const now = Date.now();

  beforeAll(async () => {
    for (let m = 60; m >= 0; m -= 5) recorder.sample(now - m * 60_000);
    app = await buildAdminServer({ store, snapshot, usage: new UsageMap(), scheduler: DEFAULT_SCHEDULER_CONFIG, log: createLogger('test', 'silent'), token: 't', capacityHistory: recorder });
  });
  afterAll(() => app.close());

  it("a zone's minute samples, oldest first; the fleet by default; a bad date refused", async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/capacity/history?zone=a&resolution=1m', headers: auth });
    expect(r.statusCode).toBe(200);
    const body = r.json() as { scope: string; name: string; samples: { at: string; memory: { capacity: number; allocated: number } }[] };
    expect(body).toMatchObject({ scope: 'zone', name: 'a' });
    expect(body.samples).toHaveLength(13);
    expect(body.samples[0]!.memory).toMatchObject({ capacity: 32 * G, allocated: 4 * G });
    expect(body.samples.map((s) => s.at)).toEqual([...body.samples.map((s) => s.at)].sort());
    expect((await app.inject({ method: 'GET', url: '/v1/capacity/history?resolution=1m', headers: auth }).then((x) => x.json())) as { scope: string }).toMatchObject({ scope: 'fleet' });
    expect((await app.inject({ method: 'GET', url: '/v1/capacity/history?from=yesterday', headers: auth })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/capacity/history?resolution=1s', headers: auth })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/v1/capacity/history' })).statusCode).toBe(401);
  });

  it('the forecast: fleet and zone, the common shape and how many more fit', async () => {
    const r = await app.inject({ method: 'GET', url: '/v1/capacity/forecast', headers: auth });
    expect(r.statusCode).toBe(200);
    const f = (r.json() as { forecasts: { scope: string; name: string; shapes: { fitsNow: number; days: number | null }[] }[] }).forecasts;
    expect(f.map((x) => `${x.scope}:${x.name}`)).toEqual(['fleet:', 'zone:a']);
    // 32G holds 8 x 4G: 7 more; nothing grew, so no day of refusal.
    expect(f[1]!.shapes[0]).toMatchObject({ fitsNow: 7, days: null });
  });
});
