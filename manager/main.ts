import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Command } from 'commander';
import { hostPortOpt } from '../src/cliopts';
import { runMain, stopOnSignals } from '../src/lifecycle';
import { createLogger } from '../src/log';
import { bindServer } from '../src/rpc';
import { AgentPool } from './agents/pool';
import { addPortal } from './api/portal';
import { addRegistry } from './api/registry';
import { Engine } from './operations/engine';
import { InstanceOps } from './operations/instances';
import { Snapshot } from './scheduler/snapshot';
import { DEFAULT_SCHEDULER_CONFIG, type SchedulerConfig } from './scheduler/types';
import { Store } from './store/index';

const program = new Command('berth-manager')
  .description('berth manager: the portal gRPC API, the scheduler and the operations engine')
  .option('--listen <host:port>', 'gRPC address for berthctl, the portal and the agents', hostPortOpt, '127.0.0.1:7400')
  .option('--state-dir <dir>', 'where the SQLite store lives', process.env.BERTH_STATE_DIR ?? '.berth')
  .option('--image <ref>', 'default MySQL image for new instances', process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11')
  .option('--admin-user <name>', 'MySQL admin user created in each instance', 'admin')
  .option('--node-timeout <seconds>', 'a node silent this long is down', (v) => Number(v) * 1000, DEFAULT_SCHEDULER_CONFIG.nodeTimeoutMs)
  .option('--cpu-overcommit <ratio>', 'CPU overcommit ratio', Number, DEFAULT_SCHEDULER_CONFIG.cpuOvercommit)
  .option('--memory-overcommit <ratio>', 'memory overcommit ratio', Number, DEFAULT_SCHEDULER_CONFIG.memoryOvercommit)
  .parse();

const o = program.opts<{
  listen: string;
  stateDir: string;
  image: string;
  adminUser: string;
  nodeTimeout: number;
  cpuOvercommit: number;
  memoryOvercommit: number;
}>();

async function main(): Promise<void> {
  const log = createLogger('manager');
  const dbFile = path.resolve(o.stateDir, 'berth.db');
  const store = Store.open(dbFile);
  const scheduler: SchedulerConfig = { nodeTimeoutMs: o.nodeTimeout, cpuOvercommit: o.cpuOvercommit, memoryOvercommit: o.memoryOvercommit };
  const snapshot = Snapshot.fromStore(store.nodes.all(), store.instances.all());
  const engine = new Engine(store, log);
  const agents = new AgentPool(store.nodes);
  const ops = new InstanceOps(store, snapshot, engine, agents, {
    defaultImage: o.image,
    adminUser: o.adminUser,
    scheduler,
    agentCreateDeadlineMs: 10 * 60_000,
  });

  const server = new grpc.Server();
  addPortal(server, { store, snapshot, ops, engine, scheduler, log });
  addRegistry(server, { store, snapshot, heartbeatIntervalMs: 2000, log });
  const port = await bindServer(server, o.listen);
  const resumed = engine.resumeAll();
  log.info({ listen: o.listen, port, store: dbFile, nodes: snapshot.size, resumed }, 'manager serving');

  stopOnSignals(
    log,
    'manager',
    server,
    () => {
      agents.close();
      store.close();
    },
    5000,
  );
}

runMain('berth-manager', main);
