// A simulated fleet around the real manager, for bench:fleet and bench:scheduler's gRPC table.
//
// The manager is the real program (dist/manager/main.js) on a real SQLite file seeded with the
// fleet, as after a restart (no registration storm). The agents are simulated: each worker
// process serves one Agent gRPC server for all its nodes (a create answers after the time a real
// one takes, in memory) and, when asked, heartbeats for each of its nodes over the node's own
// gRPC connection, reporting the instances the store holds for that node, so reconciliation
// finds nothing to change, as in a healthy fleet.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { AgentHandlers } from '../src/gen/berth/v1/Agent';
import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import type { RegistryClient } from '../src/gen/berth/v1/Registry';
import { agentProto, portalProto } from '../src/proto';
import { asyncClient, bindServer, type AsyncClient } from '../src/rpc';
import { Store } from '../manager/store/index';
import { freePort, managerArgs, ROOT } from './proc';

export interface SimConfig {
  agents: number;
  workers: number;
  // Seed 10–30 running instances per node (bench:fleet) or none (placement throughput).
  withInstances: boolean;
  heartbeatMs: number;
  // How long a simulated agent takes to create an instance: a real one initializes a data
  // directory and starts mysqld in about 1.5 s (bench:create).
  agentCreateMs: number;
}


const G = 1024 ** 3;
const T = 1024 ** 4;

const nodeName = (i: number) => `n${String(i).padStart(5, '0')}`;
const diskOf = (i: number) => `/fake/${nodeName(i)}/data1`;
// 10–30 instances per node, the same in the seed and in the workers' reports.
const instancesOf = (cfg: SimConfig, i: number) => (cfg.withInstances ? 10 + ((i * 7) % 21) : 0);
const instanceId = (i: number, k: number) => `i-${i}-${k}`;

function agentInstance(id: string, port: number, disk: string): AgentInstance {
  return {
    id, name: id, state: 'running', containerId: `fake-${id}`, port, diskPath: disk, image: 'bench', flavor: 'mariadb', version: '10.11.0-bench',
    resources: { cpuMillis: 250, memoryBytes: G, diskBytes: 10 * G },
  };
}

export const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
export const q = (xs: number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor(p * xs.length))]! : NaN);
export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------- worker: a share of the fleet
async function worker(cfg: SimConfig, idx: number, managerAddr: string, agentPort: number): Promise<void> {
  const mine: number[] = [];
  for (let i = idx; i < cfg.agents; i += cfg.workers) mine.push(i);
  const reports = new Map<string, Map<string, AgentInstance>>();
  for (const i of mine) {
    const m = new Map<string, AgentInstance>();
    for (let k = 0; k < instancesOf(cfg, i); k++) m.set(instanceId(i, k), agentInstance(instanceId(i, k), 3301 + k, diskOf(i)));
    reports.set(nodeName(i), m);
  }
  // One Agent server for all of this worker's nodes: the data disk path names the node.
  const nodeOfDisk = (disk: string) => disk.split('/')[2] ?? '';
  // Only what the manager calls on a create and a delete; the rest answers UNIMPLEMENTED.
  const h: Partial<AgentHandlers> = {
    CreateInstance: (call, cb) => {
      const r = call.request;
      setTimeout(() => {
        const inst = agentInstance(r.id, r.port, r.diskPath);
        reports.get(nodeOfDisk(r.diskPath))?.set(r.id, inst);
        cb(null, inst);
      }, cfg.agentCreateMs);
    },
    InspectInstance: (call, cb) => {
      for (const m of reports.values()) {
        const i = m.get(call.request.id);
        if (i) return cb(null, i);
      }
      cb(null, { id: call.request.id, state: 'missing' });
    },
    RemoveInstance: (call, cb) => cb(null, { existed: [...reports.values()].some((m) => m.delete(call.request.id)) }),
    StartInstance: (call, cb) => cb(null, { id: call.request.id, state: 'running' }),
    StopInstance: (call, cb) => cb(null, { id: call.request.id, state: 'stopped' }),
    ListInstances: (_call, cb) => cb(null, { instances: [] }),
    ResizeInstance: (_call, cb) => cb({ code: grpc.status.UNIMPLEMENTED, details: "the simulated fleet does not resize" }),
  };
  const server = new grpc.Server();
  server.addService(agentProto().berth.v1.Agent.service, h as grpc.UntypedServiceImplementation);
  await bindServer(server, `127.0.0.1:${agentPort}`);

  const Registry = agentProto().berth.v1.Registry;
  const clients = new Map<string, AsyncClient<RegistryClient>>();
  const latencies: number[] = [];
  let errors = 0;
  const errorCodes: Record<string, number> = {};
  let beats = 0;
  const timers: NodeJS.Timeout[] = [];
  const disks = [
    { path: '', totalBytes: 4 * T, freeBytes: 4 * T },
    { path: '', totalBytes: 4 * T, freeBytes: 4 * T },
  ];
  const diskList = (i: number) => disks.map((d, j) => ({ ...d, path: `/fake/${nodeName(i)}/data${j + 1}` }));

  async function register(i: number): Promise<void> {
    const name = nodeName(i);
    await clients.get(name)!.register({
      node: {
        name, agentAddress: `127.0.0.1:${agentPort}`, host: '127.0.0.1', labels: { zone: `z${i % 3}`, rack: `r${i % 40}` },
        cpuMillis: 64_000, memoryBytes: 256 * G, disks: diskList(i), portMin: 3301, portMax: 3399,
        agentVersion: 'bench', dockerVersion: 'bench', busyPorts: [],
      },
      instances: [...reports.get(name)!.values()],
    });
  }

  async function beat(i: number): Promise<void> {
    const name = nodeName(i);
    const inst = [...reports.get(name)!.values()];
    // Its own connection per agent, as 10,000 hosts would have: no shared subchannel.
    const t0 = process.hrtime.bigint();
    try {
      const res = await clients.get(name)!.heartbeat({ node: name, disks: diskList(i), instances: inst, busyPorts: inst.map((x) => x.port ?? 0) });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      beats++;
      if (res.reregister) await register(i);
    } catch (err) {
      errors++;
      const code = String((err as { code?: number }).code ?? 'other');
      errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    }
  }

  process.on('message', (msg: { cmd: string }) => {
    void (async () => {
      if (msg.cmd === 'start') {
        // The manager knows every node from its store (as after a restart), so agents go
        // straight to heartbeating, each on its own 5 s clock, phases spread; one registers
        // again only when the manager asks it to.
        for (const i of mine) clients.set(nodeName(i), asyncClient(new Registry(managerAddr, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }), 30_000));
        for (const i of mine) {
          timers.push(
            setTimeout(() => {
              void beat(i);
              timers.push(setInterval(() => void beat(i), cfg.heartbeatMs));
            }, Math.random() * cfg.heartbeatMs),
          );
        }
        process.send!({ cmd: 'started' });
      } else if (msg.cmd === 'reset') {
        latencies.length = 0;
        errors = 0;
        for (const k of Object.keys(errorCodes)) delete errorCodes[k];
        beats = 0;
        process.send!({ cmd: 'reset' });
      } else if (msg.cmd === 'stats') {
        const s = sorted(latencies);
        process.send!({ cmd: 'stats', beats, errors, errorCodes, p50: q(s, 0.5), p99: q(s, 0.99), max: s[s.length - 1] ?? NaN, samples: s.length });
      } else if (msg.cmd === 'stop') {
        timers.forEach((t) => clearTimeout(t));
        for (const c of clients.values()) c.close();
        server.forceShutdown();
        process.exit(0);
      }
    })();
  });
  process.send!({ cmd: 'ready' });
}

// ---------------------------------------------------------------- the manager side
function seed(cfg: SimConfig, file: string, agentPorts: number[]): number {
  const store = Store.open(file);
  const now = Date.now();
  let count = 0;
  store.tx(() => {
    for (let i = 0; i < cfg.agents; i++) {
      const name = nodeName(i);
      store.nodes.register({
        name, agentAddress: `127.0.0.1:${agentPorts[i % cfg.workers]}`, host: '127.0.0.1', labels: { zone: `z${i % 3}`, rack: `r${i % 40}` },
        cpuMillis: 64_000, memoryBytes: 256 * G, portMin: 3301, portMax: 3399, busyPorts: [], agentVersion: 'bench', dockerVersion: 'bench',
        lastHeartbeatMs: now, disks: [1, 2].map((d) => ({ path: `/fake/${name}/data${d}`, totalBytes: 4 * T, freeBytes: 4 * T })),
      });
      for (let k = 0; k < instancesOf(cfg, i); k++) {
        const id = instanceId(i, k);
        store.instances.insert({
          id, name: id, serverId: store.instances.nextServerId(), node: name, diskPath: diskOf(i), port: 3301 + k,
          cpuMillis: 250, memoryBytes: G, diskBytes: 10 * G, image: 'bench', state: 'running', adminUser: 'admin', adminPassword: 'bench',
        });
        store.instances.update(id, { state: 'running', containerId: `fake-${id}` });
        count++;
      }
    }
  });
  store.close();
  return count;
}

export function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

export async function placements(portal: AsyncClient<PortalClient>, tag: string, pid: number, clients: number, count: number) {
  const lat: number[] = [];
  let next = 0;
  let failed = 0;
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < count; i = next++) {
        const s = process.hrtime.bigint();
        try {
          await portal.createInstance({ name: `${tag}-${i}`, resources: { cpuMillis: 250, memoryBytes: G, diskBytes: 10 * G } }, 60_000);
          lat.push(Number(process.hrtime.bigint() - s) / 1e6);
        } catch {
          failed++;
        }
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = sorted(lat);
  return { placed: lat.length, failed, perSecond: Math.round(lat.length / secs), p50Ms: round(q(s, 0.5)), p99Ms: round(q(s, 0.99)), managerCpuPct: round((100 * (cpuSeconds(pid) - cpu0)) / secs, 1) };
}

export function ask<T>(workers: ChildProcess[], cmd: string, reply = cmd): Promise<T[]> {
  return Promise.all(
    workers.map(
      (w) =>
        new Promise<T>((resolve) => {
          const on = (m: { cmd: string } & T) => {
            if (m.cmd !== reply) return;
            w.off('message', on);
            resolve(m);
          };
          w.on('message', on);
          w.send({ cmd });
        }),
    ),
  );
}

export interface Sim {
  portal: AsyncClient<PortalClient>;
  pid: number;
  dir: string;
  instances: number;
  workers: ChildProcess[];
  stop(): Promise<void>;
}

// Seeds the store, starts the manager on it and the workers, and waits until the manager serves.
export async function startSim(cfg: SimConfig): Promise<Sim> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sim-'));
  const workers: ChildProcess[] = [];
  let manager: ChildProcess | undefined;
  // The manager first: with the agents gone first its running creates would fail and undo
  // themselves, which a profile of the manager would then show.
  const stop = async () => {
    if (manager && manager.exitCode === null) {
      const exited = new Promise((r) => manager!.once('exit', r));
      manager.kill('SIGTERM');
      await exited;
    }
    for (const w of workers) w.send({ cmd: 'stop' });
    // BENCH_KEEP=1: leave the state directory (the manager's log) for a look afterwards.
    if (process.env.BENCH_KEEP) process.stderr.write(`sim state kept in ${dir}\n`);
    else fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const agentPorts = await Promise.all(Array.from({ length: cfg.workers }, () => freePort()));
    const instances = seed(cfg, path.join(dir, 'berth.db'), agentPorts);
    const m = await managerArgs(dir, ['--node-timeout', '3600']);
    const log = fs.openSync(path.join(dir, 'manager.log'), 'a');
    // BENCH_MANAGER_PROF=DIR: the manager writes a V8 CPU profile there when it exits.
    const prof = process.env.BENCH_MANAGER_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_MANAGER_PROF}`] : [];
    manager = spawn(process.execPath, [...prof, ...m.args], {
      cwd: ROOT,
      stdio: ['ignore', log, log],
      env: { ...process.env, BERTH_LOG_LEVEL: 'warn' },
    });
    for (let w = 0; w < cfg.workers; w++) {
      const child = fork(path.join(__dirname, 'sim.js'), ['worker', JSON.stringify(cfg), String(w), m.registry, String(agentPorts[w])], { stdio: 'inherit' });
      workers.push(child);
      await new Promise<void>((resolve) => child.once('message', () => resolve()));
    }
    const Portal = portalProto().berth.v1.Portal;
    const portal = asyncClient(new Portal(m.portal, grpc.credentials.createInsecure()));
    for (let i = 0; ; i++) {
      try {
        await portal.getOperation({ id: 'none' }, 2000);
      } catch (err) {
        if ((err as { code?: number }).code === grpc.status.NOT_FOUND) break;
        if (i > 600) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    return { portal, pid: manager.pid!, dir, instances, workers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (process.argv[2] === 'worker') void worker(JSON.parse(process.argv[3]!) as SimConfig, Number(process.argv[4]), process.argv[5]!, Number(process.argv[6]));
