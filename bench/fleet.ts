// npm run bench:fleet — one manager under a large fleet: 10,000 simulated agents (real gRPC
// clients, each with its own connection, spread over a few worker processes; bench/sim.ts) with
// 10–30 instances each, heartbeating every 5 s, while DBAs' creates run over real gRPC.
//
// Reported: placement throughput and latency with no heartbeats and with them running, the
// manager's CPU and memory with the fleet heartbeating and nothing else to do, and the latency
// of a heartbeat as the agents see it (with errors by gRPC code).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ask, cpuSeconds, placements, round, rssBytes, startSim, type SimConfig } from './sim';

const cfg: SimConfig = {
  agents: Number(process.env.BENCH_AGENTS ?? 10_000),
  workers: Number(process.env.BENCH_WORKERS ?? 2),
  withInstances: true,
  heartbeatMs: Number(process.env.BENCH_HEARTBEAT_MS ?? 5000),
  agentCreateMs: Number(process.env.BENCH_AGENT_CREATE_MS ?? 1500),
};
const PLACEMENTS = Number(process.env.BENCH_PLACEMENTS ?? 2000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const IDLE_WINDOW_MS = Number(process.env.BENCH_IDLE_MS ?? 20_000);
const OUT_DIR = path.resolve(__dirname, '..', '..', 'bench-results');

interface BeatStats {
  beats: number;
  errors: number;
  errorCodes: Record<string, number>;
  p50: number;
  p99: number;
}

async function main(): Promise<void> {
  fs.mkdirSync(OUT_DIR, { recursive: true });
  const t0 = Date.now();
  const sim = await startSim(cfg);
  try {
    const { portal, pid, workers } = sim;
    process.stderr.write(`${cfg.agents} nodes, ${sim.instances} instances, manager up in ${Date.now() - t0} ms (RSS ${round(rssBytes(pid) / 2 ** 20, 0)} MiB)\n`);
    const quiet = await placements(portal, 'quiet', pid, CLIENTS, PLACEMENTS, sim.active);
    process.stderr.write(`placements without heartbeats: ${JSON.stringify(quiet)}\n`);
    // The manager's own idle cost (timers, liveness checks), to take out of the heartbeats' cost.
    const base0 = cpuSeconds(pid);
    const b0 = Date.now();
    await new Promise((r) => setTimeout(r, 5000));
    const baseCpuPct = round((100 * (cpuSeconds(pid) - base0)) / ((Date.now() - b0) / 1000), 1);

    await ask(workers, 'start', 'started');
    // Two full rounds so every agent is on its own clock and every node's first (written) beat is past.
    await new Promise((r) => setTimeout(r, 2 * cfg.heartbeatMs));
    await ask(workers, 'reset');
    const cpu0 = cpuSeconds(pid);
    const w0 = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
    const secs = (Date.now() - w0) / 1000;
    const idleCpuPct = round((100 * (cpuSeconds(pid) - cpu0)) / secs, 1);
    const idleRss = rssBytes(pid);
    const idle = await ask<BeatStats>(workers, 'stats');
    const beats = idle.reduce((a, s) => a + s.beats, 0);
    process.stderr.write(`heartbeating, idle: manager CPU ${idleCpuPct}% of one core, ${beats} heartbeats, errors by code ${JSON.stringify(idle.map((s) => s.errorCodes))}\n`);

    await ask(workers, 'reset');
    const busy = await placements(portal, 'busy', pid, CLIENTS, PLACEMENTS, sim.active);
    const during = await ask<BeatStats>(workers, 'stats');
    process.stderr.write(`placements with heartbeats: ${JSON.stringify(busy)}\n`);

    const result = {
      at: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      ...cfg,
      instances: sim.instances,
      clients: CLIENTS,
      placementsWithoutHeartbeats: quiet,
      heartbeatsOnly: {
        windowMs: IDLE_WINDOW_MS,
        managerCpuPctOfOneCore: idleCpuPct,
        managerCpuPctWithoutHeartbeats: baseCpuPct,
        // Manager CPU per heartbeat, its idle cost taken out.
        managerCpuUsPerHeartbeat: round((10_000 * (idleCpuPct - baseCpuPct)) / (beats / secs), 1),
        managerRssMiB: round(idleRss / 2 ** 20, 0),
        heartbeatsPerSecond: round(beats / secs, 0),
        heartbeatsOffered: round((1000 * cfg.agents) / cfg.heartbeatMs, 0),
        managerArgs: process.env.BENCH_MANAGER_ARGS ?? '',
        heartbeatErrors: idle.reduce((a, s) => a + s.errors, 0),
        heartbeatP50Ms: round(Math.max(...idle.map((s) => s.p50))),
        heartbeatP99Ms: round(Math.max(...idle.map((s) => s.p99))),
      },
      placementsWithHeartbeats: { ...busy, heartbeatP99Ms: round(Math.max(...during.map((s) => s.p99))), heartbeatErrors: during.reduce((a, s) => a + s.errors, 0) },
      p99Ratio: round(busy.p99Ms / quiet.p99Ms),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    fs.writeFileSync(path.join(OUT_DIR, 'fleet.json'), JSON.stringify(result, null, 2));
  } finally {
    await sim.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
