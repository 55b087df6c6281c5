// Benchmark: in-place resize latency (issue 9), on its own: a manager and one agent on
// loopback, one real instance, five resizes alternating 768M and 1G (median of 5, target < 1 s).
// bench:expansion runs the same measurement (bench/resize-latency.ts) beside the copy and
// cut-over rows.
//
//   npm run bench:resize
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { portalProto } from '../src/proto';
import { asyncClient } from '../src/rpc';
import { benchFleet, freePort, managerArgs, runBench, writeResult } from './proc';
import { resizeLatency } from './resize-latency';

const IMAGE = process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11';
const M = 1024 ** 2;


async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-resize-'));
  const m = await managerArgs(path.join(dir, 'state'), ['--image', IMAGE]);
  const node = `bres-${process.pid}`;
  // No warm-create template: one still being built when the bench ends would outlive its agent.
  const fleet = benchFleet([node]);
  fleet.start(m.args, path.join(dir, 'manager.log'));
  fleet.start(['dist/agent/main.js', '--insecure', '--manager', m.registry, '--listen', `127.0.0.1:${await freePort('127.0.0.1')}`, '--node', node, '--disk', path.join(dir, 'disk'), '--ports', '3791-3799', '--cpus', '4', '--memory', '4G', '--templates', 'off'], path.join(dir, 'agent.log'));
  const portal = asyncClient(new (portalProto().berth.v1.Portal)(m.portal, grpc.credentials.createInsecure()));
  try {
    for (let i = 0; ; i++) {
      const { nodes } = await portal.listNodes({}).catch(() => ({ nodes: [] as { state: string }[] }));
      if (nodes.some((n) => n.state === 'ready')) break;
      if (i > 300) throw new Error('the agent did not register');
      await new Promise((r) => setTimeout(r, 200));
    }
    const res = await portal.createInstance({ name: 'bres', resources: { cpuMillis: 1000, memoryBytes: 1024 * M, diskBytes: 2048 * M } });
    const op = await portal.waitOperation({ id: res.operation!.id, timeoutMs: 170_000 }, 175_000);
    if (op.state !== 'succeeded') throw new Error(`create failed: ${op.error}`);
    const r = await resizeLatency(portal, 'bres', [768 * M, 1024 * M], 5);
    const out = { image: IMAGE, machine: { cpus: os.cpus().length, memoryBytes: os.totalmem() }, resizeInPlace: r };
    console.log(`in-place resize, ${r.runs} runs: median ${r.medianMs} ms (max ${r.maxMs} ms) from the call to limits and buffer pool applied; the agent's part ${r.agentMedianMs} ms`);
    writeResult('resize', out);
    const del = await portal.deleteInstance({ instance: 'bres' });
    await portal.waitOperation({ id: del.id, timeoutMs: 120_000 }, 130_000);
  } finally {
    portal.close();
    fleet.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runBench(main);
