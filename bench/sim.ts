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
import http2 from 'node:http2';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Database from 'better-sqlite3';
import type { AgentHandlers } from '../src/gen/berth/v1/Agent';
import type { AgentInstance } from '../src/gen/berth/v1/AgentInstance';
import type { PortalClient } from '../src/gen/berth/v1/Portal';
import type { RegistryClient } from '../src/gen/berth/v1/Registry';
import { agentProto, portalProto } from '../src/proto';
import { asyncClient, bindServer, type AsyncClient } from '../src/rpc';
import { Store } from '../manager/store/index';
import { FULL_EVERY } from '../agent/heartbeat-delta';
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
    // Measured usage, as a real agent reports it: a third of the disk, 40% of memory (below the
    // thresholds, as most of a healthy fleet is).
    usedDiskBytes: 3 * G + (port % 7) * 2 ** 20, usedMemoryBytes: 0.4 * G, usedCpuMillis: 20, usageMeasuredAtMs: MEASURED_AT,
  };
}
const MEASURED_AT = Date.now();

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
        reportChanged(nodeOfDisk(r.diskPath));
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
    RemoveInstance: (call, cb) => {
      for (const [node, m] of reports) if (m.delete(call.request.id)) return (reportChanged(node), cb(null, { existed: true }));
      cb(null, { existed: false });
    },
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

  let registry: AsyncClient<RegistryClient> | undefined;
  const lazyRegistry = () => ({
    register: (r: Parameters<AsyncClient<RegistryClient>['register']>[0]) => (registry ??= asyncClient(new Registry(managerAddr, grpc.credentials.createInsecure()), 30_000)).register(r),
    close: () => registry?.close(),
  }) as unknown as AsyncClient<RegistryClient>;

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

  // Heartbeats go out as gRPC on the wire, but from a lean client: each agent's own HTTP/2
  // connection (node:http2), and its HeartbeatRequest encoded once into a length-prefixed gRPC
  // frame and sent again as is until its report changes (a create or remove on that node). With
  // a grpc-js client and an encode per beat, three worker processes could not send 2,000/s beside
  // the manager on two cores; this costs a few microseconds per beat.
  const sessions = new Map<string, http2.ClientHttp2Session>();
  const frames = new Map<string, Buffer>();
  const encode = agentProto().berth.v1.Registry.service.Heartbeat.requestSerialize;
  // As the real agent does (agent/heartbeat.ts, BENCH_DELTA=0 turns it off): once the manager
  // answered a full report and accepts deltas, quiet beats carry no instance, with a full one
  // every FULL_EVERY beats and whenever the report changed or the manager asks for one.
  const useDelta = process.env.BENCH_DELTA !== '0';
  const quietFrames = new Map<string, Buffer>();
  const acked = new Map<string, number>();
  const frame = (msg: Buffer) => {
    const f = Buffer.alloc(5 + msg.length);
    f.writeUInt32BE(msg.length, 1);
    msg.copy(f, 5);
    return f;
  };
  const frameOf = (i: number): { f: Buffer; delta: boolean } => {
    const name = nodeName(i);
    const inst = [...reports.get(name)!.values()];
    const since = acked.get(name);
    if (useDelta && since !== undefined && since < FULL_EVERY) {
      let f = quietFrames.get(name);
      if (!f) quietFrames.set(name, (f = frame(encode({ node: name, disks: diskList(i), instances: [], busyPorts: inst.map((x) => x.port ?? 0), delta: true }))));
      return { f, delta: true };
    }
    let f = frames.get(name);
    if (!f) frames.set(name, (f = frame(encode({ node: name, disks: diskList(i), instances: inst, busyPorts: inst.map((x) => x.port ?? 0) }))));
    return { f, delta: false };
  };
  const decodeReply = agentProto().berth.v1.Registry.service.Heartbeat.responseDeserialize;
  const reportChanged = (node: string) => {
    frames.delete(node);
    quietFrames.delete(node);
    acked.delete(node);
  };

  function connect(name: string): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(`http://${managerAddr}`);
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', () => undefined);
        s.once('close', () => sessions.get(name) === s && sessions.delete(name));
        sessions.set(name, s);
        resolve(s);
      });
      s.once('error', reject);
    });
  }

  // A few hundred connections at a time: 10,000 at once overflow the listen backlog and the
  // clients' reconnect back-off then looks like a slow manager.
  async function connectAll(): Promise<void> {
    const names = mine.map(nodeName);
    for (let at = 0; at < names.length; at += 200) {
      await Promise.all(names.slice(at, at + 200).map(async (n) => {
        for (let tries = 0; ; tries++) {
          try {
            return await connect(n);
          } catch (err) {
            if (tries > 20) throw err;
            await new Promise((r) => setTimeout(r, 100 * (tries + 1)));
          }
        }
      }));
    }
  }

  function failed(code: string): void {
    errors++;
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
  }

  async function beat(i: number): Promise<void> {
    const name = nodeName(i);
    let session = sessions.get(name);
    if (!session || session.closed || session.destroyed) {
      try {
        session = await connect(name);
      } catch {
        return failed('connect');
      }
    }
    const t0 = process.hrtime.bigint();
    const req = session.request({ ':method': 'POST', ':path': '/berth.v1.Registry/Heartbeat', 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '30S' });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    req.on('response', (h) => (status ??= h['grpc-status'] as string | undefined));
    req.on('trailers', (h) => (status = h['grpc-status'] as string | undefined));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('close', () => {
      if (status !== '0') return failed(status ?? 'transport');
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      beats++;
      const body = Buffer.concat(chunks);
      const res = decodeReply(body.subarray(5)) as { reregister?: boolean; acceptsDelta?: boolean; fullReport?: boolean };
      if (res.reregister) {
        acked.delete(name);
        void register(i).catch(() => failed('register'));
      } else if (res.fullReport) {
        acked.delete(name);
        void beat(i);
      } else if (res.acceptsDelta) acked.set(name, sent.delta ? (acked.get(name) ?? 0) + 1 : 0);
    });
    const sent = frameOf(i);
    req.end(sent.f);
  }

  process.on('message', (msg: { cmd: string }) => {
    void (async () => {
      if (msg.cmd === 'start') {
        // The manager knows every node from its store (as after a restart), so agents go
        // straight to heartbeating, each on its own 5 s clock, phases spread; one registers
        // again only when the manager asks it to.
        // Registration (only when the manager asks for it) goes through grpc-js, made on demand.
        for (const i of mine) clients.set(nodeName(i), lazyRegistry());
        await connectAll();
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
        for (const s of sessions.values()) s.destroy();
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

// Creates over gRPC from `clients` concurrent callers, each answered once its reservation is
// durable. With `active` (the count of operations not ended), it then waits for the creates'
// operations to end too, so the manager CPU per create includes building it (the agent calls and
// the engine's bookkeeping), not only placing it.
export async function placements(portal: AsyncClient<PortalClient>, tag: string, pid: number, clients: number, count: number, active?: () => number) {
  const lat: number[] = [];
  let next = 0;
  let failed = 0;
  const cpu0 = cpuSeconds(pid);
  const own0 = process.cpuUsage();
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
  const cpu1 = cpuSeconds(pid);
  const own = process.cpuUsage(own0);
  let drainedSecs = NaN;
  let cpuMsPerCreate = NaN;
  if (active) {
    while (active() > 0 && Number(process.hrtime.bigint() - t0) / 1e9 < secs + 120) await new Promise((r) => setTimeout(r, 50));
    drainedSecs = round(Number(process.hrtime.bigint() - t0) / 1e9);
    cpuMsPerCreate = round((1000 * (cpuSeconds(pid) - cpu0)) / lat.length, 3);
  }
  const s = sorted(lat);
  return {
    placed: lat.length, failed, perSecond: Math.round(lat.length / secs), p50Ms: round(q(s, 0.5)), p99Ms: round(q(s, 0.99)),
    managerCpuPct: round((100 * (cpu1 - cpu0)) / secs, 1),
    // The calling process (the gRPC clients): on two cores it competes with the manager.
    clientCpuPct: round((own.user + own.system) / 1e4 / secs, 1),
    loadAvg: round(os.loadavg()[0]!, 1),
    // Manager CPU while the placements ran, per placement; and per create, operations included.
    cpuMsPerPlacement: round((1000 * (cpu1 - cpu0)) / lat.length, 3), cpuMsPerCreate, drainedSecs,
  };
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
  // Operations not ended, read from the manager's SQLite file (WAL: readers do not block it).
  active(): number;
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
    // BENCH_MANAGER_ARGS: more manager flags (e.g. --alert-interval 3600 to keep the periodic
    // whole-fleet scans out of a measurement of heartbeats).
    const m = await managerArgs(dir, ['--node-timeout', '3600', ...(process.env.BENCH_MANAGER_ARGS ?? '').split(' ').filter(Boolean)]);
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
    const db = new Database(path.join(dir, 'berth.db'), { readonly: true });
    const count = db.prepare(`SELECT COUNT(*) AS n FROM operations WHERE state IN ('running', 'rolling_back')`);
    const active = () => (count.get() as { n: number }).n;
    return { portal, active, pid: manager.pid!, dir, instances, workers, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

if (process.argv[2] === 'worker') void worker(JSON.parse(process.argv[3]!) as SimConfig, Number(process.argv[4]), process.argv[5]!, Number(process.argv[6]));
