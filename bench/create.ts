// Benchmark: time to a usable MySQL instance through berth (berthctl-equivalent gRPC create,
// waited until running), cold (the agent initializes the data directory in a throwaway
// container) and warm (the agent copies its data directory template, agent --templates on),
// against a hand-made baseline doing the same work directly on the Docker engine: directories,
// my.cnf, the flavor's initializer in a throwaway container, mysqld container, wait until it
// answers. All three run in this process, in turn, on the same engine and image.
//
//   npm run bench:create [-- --runs 5] [-- --flavor mysql]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import { renderMyCnf } from '../agent/instance/mycnf';
import { initCommand } from '../agent/instance/datadir';
import { templateRoot } from '../agent/instance/template';
import { binds, DIRS, layoutFor } from '../agent/instance/layout';
import type { Flavor } from '../src/mysql/dialect';
import { portalProto } from '../src/proto';
import { asyncClient } from '../src/rpc';
import { connectSocket } from '../src/mysql/connect';
import { waitFor } from '../src/wait';
import { atExit, benchFleet, freePort, runBench, writeResult } from './proc';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const FLAVOR: Flavor = arg('--flavor') === 'mysql' ? 'mysql' : 'mariadb';
const IMAGE = FLAVOR === 'mysql' ? (process.env.BERTH_MYSQL_IMAGE ?? 'berth/mysql:9.7') : (process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11');
const runs = Number(arg('--runs') || 5);
const M = 1024 ** 2;
const docker = new Docker({ socketPath: '/var/run/docker.sock' });


async function baseline(dir: string, i: number, port: number): Promise<void> {
  const id = `i-bench${String(i).padStart(6, '0')}`;
  const layout = layoutFor(dir, id);
  for (const d of DIRS) fs.mkdirSync(layout.dirs[d], { recursive: true });
  fs.writeFileSync(layout.mycnf, renderMyCnf({ flavor: FLAVOR, instanceId: id, serverId: 1000 + i, bindAddress: '127.0.0.1', port, memoryBytes: 512 * M }));
  const labels = { 'berth.bench': 'baseline' };
  const init = await docker.createContainer({
    Image: IMAGE,
    Cmd: initCommand(FLAVOR),
    Labels: labels,
    HostConfig: { NetworkMode: 'none', Binds: binds(layout) },
  });
  await init.start();
  await init.wait();
  await init.remove();
  const c = await docker.createContainer({
    Image: IMAGE,
    Cmd: ['mysqld', '--defaults-file=/etc/berth/my.cnf'],
    Labels: labels,
    HostConfig: { NetworkMode: 'host', Binds: binds(layout), NanoCpus: 5e8, Memory: 512 * M, MemorySwap: 512 * M },
  });
  await c.start();
  await waitFor('baseline mysqld', async () => (await connectSocket(layout.socket, 2000)).end(), { timeoutMs: 120_000, intervalMs: 50 });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-bench-'));
  const grpcPort = await freePort();
  const node = `bench-${process.pid}`;
  const registryPort = await freePort();
  const fleet = benchFleet([`${node}-cold`, `${node}-warm`]);
  // The baseline's containers too, however the run ends.
  atExit(() => {
    const ids = execFileSync('docker', ['ps', '-aq', '--filter', 'label=berth.bench=baseline'], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (ids.length) execFileSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore' });
  });
  fleet.start(['dist/manager/main.js', '--insecure', '--listen', `127.0.0.1:${grpcPort}`, '--registry-listen', `127.0.0.1:${registryPort}`, '--admin-listen', `127.0.0.1:${await freePort()}`, '--state-dir', path.join(dir, 'state'), '--image', IMAGE], path.join(dir, 'manager.log'));
  // Two agents on one host: "cold" initializes every data directory, "warm" keeps a template.
  const agentArgs = (name: string, ports: string, extra: string[]) => [
    'dist/agent/main.js', '--insecure', '--manager', `127.0.0.1:${registryPort}`, '--node', `${node}-${name}`, '--disk', path.join(dir, `disk-${name}`), '--ports', ports, '--cpus', '64', ...extra,
  ];
  fleet.start([...agentArgs('cold', '3901-3920', []), '--listen', `127.0.0.1:${await freePort()}`], path.join(dir, 'agent-cold.log'));
  fleet.start([...agentArgs('warm', '3921-3940', ['--templates', 'on']), '--listen', `127.0.0.1:${await freePort()}`], path.join(dir, 'agent-warm.log'));
  const Portal = portalProto().berth.v1.Portal;
  const portal = asyncClient(new Portal(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()));
  const results = { cold: [] as number[], warm: [] as number[], baseline: [] as number[] };
  const create = async (name: string, on: 'cold' | 'warm') => {
    const t = performance.now();
    const r = await portal.createInstance({ name, node: `${node}-${on}`, resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1024 * M } });
    const op = await portal.waitOperation({ id: r.operation!.id, timeoutMs: 120_000 }, 130_000);
    if (op.state !== 'succeeded') throw new Error(`berth create failed: ${op.error}`);
    return performance.now() - t;
  };
  try {
    await waitFor('nodes registered', async () => {
      if ((await portal.listNodes({})).nodes.length < 2) throw new Error('no nodes yet');
    }, { timeoutMs: 30_000 });
    // Warm-up: each agent learns the image's flavor once; the page cache holds the image; the
    // warm agent makes its template after its first create (not timed).
    await Promise.all([create('warmup-cold', 'cold'), create('warmup-warm', 'warm')]);
    const marker = path.join(templateRoot(path.join(dir, 'disk-warm'), (await docker.getImage(IMAGE).inspect()).Id), 'template.json');
    await waitFor('the template', async () => {
      if (!fs.existsSync(marker)) throw new Error('not yet');
    }, { timeoutMs: 300_000, intervalMs: 200 });
    for (let i = 0; i < runs; i++) {
      results.cold.push(await create(`cold${i}`, 'cold'));
      results.warm.push(await create(`warm${i}`, 'warm'));
      const t = performance.now();
      await baseline(path.join(dir, 'baseline-disk'), i, 3951 + i);
      results.baseline.push(performance.now() - t);
    }
  } finally {
    portal.close();
    fleet.end();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const cold = median(results.cold);
  const warm = median(results.warm);
  const base = median(results.baseline);
  const out = {
    runs,
    image: IMAGE,
    flavor: FLAVOR,
    coldMs: results.cold.map(Math.round),
    warmMs: results.warm.map(Math.round),
    baselineMs: results.baseline.map(Math.round),
    medianColdMs: Math.round(cold),
    medianWarmMs: Math.round(warm),
    medianBaselineMs: Math.round(base),
    ratioCold: Number((cold / base).toFixed(2)),
    ratioWarm: Number((warm / base).toFixed(2)),
  };
  process.stdout.write(
    `create to a usable instance (${FLAVOR}, 512M, 0.5 CPU), ${runs} runs each, in turn\n` +
      `  berth cold (gRPC create + wait, initializer):  median ${out.medianColdMs} ms  ${out.coldMs.join(' ')}\n` +
      `  berth warm (gRPC create + wait, template):     median ${out.medianWarmMs} ms  ${out.warmMs.join(' ')}\n` +
      `  baseline (docker run: initialize, mysqld):     median ${out.medianBaselineMs} ms  ${out.baselineMs.join(' ')}\n` +
      `  ratio cold/baseline ${out.ratioCold}, warm/baseline ${out.ratioWarm}\n`,
  );
  writeResult(`create-${FLAVOR}`, out);
}

runBench(main);
