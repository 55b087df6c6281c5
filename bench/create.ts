// Benchmark: time to a usable MySQL instance through berth (berthctl-equivalent gRPC create,
// waited until running) against a hand-made baseline doing the same work directly on the Docker
// engine: directories, my.cnf, mariadb-install-db in a throwaway container, mysqld container,
// wait until it answers. Both run in this process, alternating, on the same engine and image.
//
//   npm run bench:create [-- --runs 5]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import { renderMyCnf } from '../agent/instance/mycnf';
import { binds, DIRS, IN_CONTAINER, layoutFor } from '../agent/instance/layout';
import { portalProto } from '../src/proto';
import { asyncClient } from '../src/rpc';
import { connectSocket, waitFor } from '../src/mysql/connect';

const ROOT = path.resolve(__dirname, '..', '..');
const IMAGE = process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11';
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 5);
const M = 1024 ** 2;
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function start(args: string[], log: string): ChildProcess {
  const fd = fs.openSync(log, 'a');
  return spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', fd, fd] });
}

async function baseline(dir: string, i: number, port: number): Promise<void> {
  const id = `i-bench${String(i).padStart(6, '0')}`;
  const layout = layoutFor(dir, id);
  for (const d of DIRS) fs.mkdirSync(layout.dirs[d], { recursive: true });
  fs.writeFileSync(layout.mycnf, renderMyCnf({ flavor: 'mariadb', instanceId: id, serverId: 1000 + i, bindAddress: '127.0.0.1', port, memoryBytes: 512 * M }));
  const labels = { 'berth.bench': 'baseline' };
  const owners = DIRS.filter((d) => d !== 'conf').map((d) => IN_CONTAINER[d]).join(' ');
  const init = await docker.createContainer({
    Image: IMAGE,
    Cmd: ['sh', '-c', `chown -R mysql:mysql ${owners} && mariadb-install-db --defaults-file=/etc/berth/my.cnf --user=mysql --skip-test-db`],
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
  const manager = start(['dist/manager/main.js', '--listen', `127.0.0.1:${grpcPort}`, '--state-dir', path.join(dir, 'state')], path.join(dir, 'manager.log'));
  const agent = start(
    ['dist/agent/main.js', '--manager', `127.0.0.1:${grpcPort}`, '--listen', `127.0.0.1:${await freePort()}`, '--node', node, '--disk', path.join(dir, 'berth-disk'), '--ports', '3901-3950', '--cpus', '64'],
    path.join(dir, 'agent.log'),
  );
  const Portal = portalProto().berth.v1.Portal;
  const portal = asyncClient(new Portal(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure()));
  const results = { berth: [] as number[], baseline: [] as number[] };
  try {
    await waitFor('node registered', async () => {
      if ((await portal.listNodes({})).nodes.length === 0) throw new Error('no node yet');
    }, { timeoutMs: 30_000 });
    // Warm-up: the agent learns the image's flavor once; the page cache holds the image.
    const w = await portal.createInstance({ name: 'warmup', resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1024 * M } });
    await portal.waitOperation({ id: w.operation!.id, timeoutMs: 120_000 }, 130_000);
    for (let i = 0; i < runs; i++) {
      let t = performance.now();
      const r = await portal.createInstance({ name: `bench${i}`, resources: { cpuMillis: 500, memoryBytes: 512 * M, diskBytes: 1024 * M } });
      const op = await portal.waitOperation({ id: r.operation!.id, timeoutMs: 120_000 }, 130_000);
      if (op.state !== 'succeeded') throw new Error(`berth create failed: ${op.error}`);
      results.berth.push(performance.now() - t);

      t = performance.now();
      await baseline(path.join(dir, 'baseline-disk'), i, 3951 + i);
      results.baseline.push(performance.now() - t);
    }
  } finally {
    portal.close();
    for (const p of [agent, manager]) p.kill('SIGTERM');
    const leftovers = [
      ...(await docker.listContainers({ all: true, filters: JSON.stringify({ label: ['berth.bench=baseline'] }) })),
      ...(await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${node}`] }) })),
    ];
    for (const c of leftovers) await docker.getContainer(c.Id).remove({ force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const b = median(results.berth);
  const base = median(results.baseline);
  const out = {
    runs,
    image: IMAGE,
    berthMs: results.berth.map(Math.round),
    baselineMs: results.baseline.map(Math.round),
    medianBerthMs: Math.round(b),
    medianBaselineMs: Math.round(base),
    ratio: Number((b / base).toFixed(2)),
  };
  process.stdout.write(
    `create to a usable instance (512M, 0.5 CPU), ${runs} runs each, alternating\n` +
      `  berth (gRPC create + wait):      median ${out.medianBerthMs} ms  ${out.berthMs.join(' ')}\n` +
      `  baseline (direct Docker API):    median ${out.medianBaselineMs} ms  ${out.baselineMs.join(' ')}\n` +
      `  ratio berth/baseline:            ${out.ratio}\n`,
  );
  fs.mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench-results', 'create.json'), JSON.stringify(out, null, 2));
}

main().catch((err: Error) => {
  process.stderr.write(`bench:create: ${err.message}\n`);
  process.exit(1);
});
