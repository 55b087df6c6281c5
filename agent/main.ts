import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Command, Option } from 'commander';
import { collect, cpuOpt, hostPortListOpt, hostPortOpt, labelOpt, logFormatOption, portRangeOpt, secondsOpt, sizeOpt } from '../src/cliopts';
import type { LogFormat } from '../src/logformat';
import { createLogger } from '../src/log';
import { agentProto } from '../src/proto';
import { asyncClient, bindServer, CHANNEL_OPTIONS, SERVER_OPTIONS } from '../src/rpc';
import { channelCredentials, filesIn, serverCredentials, type TlsFiles } from '../src/tls/credentials';
import { runMain, stopOnSignals } from '../src/lifecycle';
import { VERSION } from '../src/version';
import { DockerEngine } from './docker';
import { Heartbeat, probeNode } from './heartbeat';
import { AgentRevocations } from './revocations';
import { EpochFence } from './epoch';
import { ManagerRing } from './managers';
import { probeCpuMillis, probeMemoryBytes } from './host';
import { Instances } from './instance/lifecycle';
import { movementHandlers } from './movement/handlers';
import { purgeTrash } from './instance/datadir';
import { agentServer } from './server';
import { routerHandlers } from './router/handlers';
import { HaproxyRouter } from './router/supervisor';
import { DEFAULT_USAGE_CONFIG, UsageProbe } from './usage';
import { DEFAULT_REPLICATION_PROBE, ReplicationProbe } from './replication-state';
import { WriteLease } from './write-lease';
import { WriteGate } from './write-gate';
import { leaseFence } from './fence';
import { Replication } from './movement/replication';
import { refreshTls } from './instance/tls-refresh';
import { withInstance } from './movement/sql';

const defaultNode = os.hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').replace(/^[^a-z]+/, '') || 'node';

const program = new Command('berth-agent')
  .description('berth agent: runs MySQL containers on this host for the berth manager')
  .option('--manager <host:port,...>', "the managers' registry addresses (their --registry-listen), comma-separated: the agent heartbeats to the one that leads", hostPortListOpt, (process.env.BERTH_REGISTRY ?? '127.0.0.1:7402').split(','))
  .option('--tls-dir <dir>', 'directory made by berthctl certs init: ca.crt, node-<name>.crt/.key (or BERTH_TLS_DIR)', process.env.BERTH_TLS_DIR)
  .option('--ca <file>', 'fleet CA certificate (default: <tls-dir>/ca.crt)')
  .option('--cert <file>', "this node's certificate (default: <tls-dir>/node-<name>.crt)")
  .option('--key <file>', "this node's private key (default: <tls-dir>/node-<name>.key)")
  .option('--insecure', 'plaintext gRPC without certificates (a warning is logged at every start)')
  .option('--trash-retention <hours>', 'removed instance directories stay in <disk>/berth/.trash this long', Number, 24)
  .option('--listen <host:port>', "this agent's gRPC address", hostPortOpt, '127.0.0.1:7401')
  .option('--advertise <host:port>', 'address the manager dials (default: --listen)', hostPortOpt)
  .option('--node <name>', 'node name, unique in the fleet', defaultNode)
  .option('--host <address>', 'address mysqld instances bind to and clients connect to (default: the --listen host)')
  .option('--label <k=v>', 'node label, repeatable (zone=a, rack=r1, disk=ssd)', labelOpt, {})
  .option('--disk <path>', 'data disk mount point, repeatable', collect, [])
  .addOption(
    new Option('--templates <on|off>', 'warm create: keep an initialized data directory per image and disk (<disk>/berth/.templates) and copy it instead of initializing')
      .choices(['on', 'off'])
      .default('on'),
  )
  .option('--ports <min-max>', 'port range for instances', portRangeOpt, [3301, 3399] as [number, number])
  .option('--router-dir <dir>', 'HAProxy config, pid file and runtime socket of this node\'s endpoints (default: <first disk>/berth/.router)')
  .option('--haproxy <path>', 'HAProxy binary run for stable endpoints', 'haproxy')
  .option('--docker-socket <path>', 'Docker Engine socket', '/var/run/docker.sock')
  .option('--cpus <n>', 'CPU to offer (default: all cores)', cpuOpt)
  .option('--memory <size>', 'memory to offer (default: all of it)', sizeOpt)
  .option('--usage-interval <seconds>', 'how often instance memory, CPU and mysqld liveness are measured', secondsOpt, DEFAULT_USAGE_CONFIG.intervalMs / 1000)
  .option('--replication-interval <seconds>', 'how often replication state and mysqld liveness are read for failure detection', secondsOpt, DEFAULT_REPLICATION_PROBE.intervalMs / 1000)
  .option('--disk-usage-interval <seconds>', 'how often instance directories are walked for their size', secondsOpt, DEFAULT_USAGE_CONFIG.diskIntervalMs / 1000)
  .addOption(logFormatOption())
  .version(VERSION)
  .parse();

const o = program.opts<{
  manager: string[];
  templates: 'on' | 'off';
  tlsDir?: string;
  ca?: string;
  cert?: string;
  key?: string;
  insecure?: boolean;
  trashRetention: number;
  listen: string;
  advertise?: string;
  node: string;
  host?: string;
  label: Record<string, string>;
  disk: string[];
  ports: [number, number];
  dockerSocket: string;
  routerDir?: string;
  haproxy: string;
  cpus?: number;
  memory?: number;
  usageInterval: number;
  diskUsageInterval: number;
  replicationInterval: number;
  logFormat: LogFormat;
}>();

// mysql-<node>.{crt,key} beside this node's certificate, with the same CA, when they exist.
function mysqlTlsFiles(tls: TlsFiles | undefined): TlsFiles | undefined {
  if (!tls || !o.tlsDir) return undefined;
  const f = { ...filesIn(path.resolve(o.tlsDir), 'mysql', o.node), ca: tls.ca };
  return existsSync(f.cert) && existsSync(f.key) ? f : undefined;
}

function tlsFiles(): TlsFiles | undefined {
  if (o.insecure) return undefined;
  if (!o.tlsDir && !(o.ca && o.cert && o.key)) throw new Error('give --tls-dir (or --ca, --cert and --key) from berthctl certs init, or --insecure for plaintext');
  const d = o.tlsDir ? filesIn(path.resolve(o.tlsDir), 'node', o.node) : { ca: '', cert: '', key: '' };
  return { ca: o.ca ?? d.ca, cert: o.cert ?? d.cert, key: o.key ?? d.key };
}

async function main(): Promise<void> {
  const log = createLogger('agent', undefined, o.logFormat).child({ node: o.node });
  const tls = tlsFiles();
  if (!tls) log.warn('INSECURE: --insecure given, gRPC runs in plaintext; anyone who reaches the agent port can remove instances');
  if (o.disk.length === 0) throw new Error('at least one --disk is required');
  const disks = o.disk.map((d) => path.resolve(d));
  for (const d of disks) await fs.mkdir(d, { recursive: true });
  const host = o.host ?? o.listen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');

  const docker = new DockerEngine(o.dockerSocket);
  const dockerVersion = await docker.version().catch((err: Error) => {
    throw new Error(`no Docker engine answers on ${o.dockerSocket}: ${err.message} (run npm run setup, or start dockerd)`);
  });
  const mysqlTls = mysqlTlsFiles(tls);
  log.info({ mysqlTls: Boolean(mysqlTls) }, mysqlTls ? 'MySQL servers on this node offer TLS with its MySQL certificate' : 'no MySQL certificate (mysql-<node>.crt in --tls-dir): MySQL servers on this node offer no TLS');
  const instances = new Instances(docker, { node: o.node, host, disks, portMin: o.ports[0], portMax: o.ports[1], mysqlTls }, log, { templates: o.templates === 'on' });
  const leftovers = await instances.removeLeftovers();
  const known = await instances.list();
  log.info({ instances: known.length, leftovers }, 'rebuilt view from labelled containers');
  // A MySQL certificate rotated while the agent was down reaches the running instances.
  if (mysqlTls) await refreshTls(known, mysqlTls, (id) => withInstance(instances, id, (s) => s.run(s.d.reloadTls())), log);

  // Before serving: a restarted agent refuses revoked certificates from its first call.
  const revocations = new AgentRevocations(AgentRevocations.fileFor(disks[0]!), log);
  revocations.load();
  // The highest leader epoch seen survives a restart: a deposed manager stays refused.
  const epochs = new EpochFence(EpochFence.fileFor(disks[0]!), log);
  epochs.load();
  // One gate for the whole agent: the write lease tells it what it fenced.
  const gate = new WriteGate();
  // Started at the first routing the manager sends (only router nodes get frontends).
  const router = new HaproxyRouter({ dir: o.routerDir ?? path.join(disks[0]!, 'berth', '.router'), bindHost: host, haproxy: o.haproxy }, log.child({ part: 'router' }));
  const handlers = { ...movementHandlers(docker, instances, { node: o.node, disks, tls, listenHost: o.listen.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') }, log, gate), ...routerHandlers(router, log) };
  const server = agentServer(instances, log, handlers, Boolean(tls), SERVER_OPTIONS, { node: o.node, disks, ca: tls?.ca, epochs });
  const port = await bindServer(server, o.listen, serverCredentials(tls, 'require'));
  const advertise = o.advertise ?? o.listen.replace(/:0$/, `:${port}`);
  log.info({ listen: o.listen, port, advertise, manager: o.manager, dockerVersion }, 'agent serving');

  const purge = () =>
    purgeTrash(disks, o.trashRetention * 3_600_000).then(
      (gone) => gone.length && log.info({ gone }, 'trash: removed instance directories past their retention deleted'),
      (err: Error) => log.warn({ err: err.message }, 'trash purge failed'),
    );
  void purge();
  setInterval(() => void purge(), 3_600_000).unref();

  const usage = new UsageProbe(docker, () => instances.list(), { ...DEFAULT_USAGE_CONFIG, intervalMs: o.usageInterval * 1000, diskIntervalMs: o.diskUsageInterval * 1000 }, log);
  usage.start();

  const repl = new Replication(instances);
  const fence = leaseFence(repl, instances, docker, log);
  // Noted before the fence starts: a request to open it that arrives meanwhile is refused.
  const lease = new WriteLease((id) => (gate.fenced(id), fence(id)), log);
  gate.onApplied = (id, req) => lease.applied(id, req);
  let nudge = () => undefined as void;
  const replication = new ReplicationProbe(() => instances.list(), { ...DEFAULT_REPLICATION_PROBE, intervalMs: o.replicationInterval * 1000 }, log, () => nudge(), (id, ro) => lease.isFenced(id, ro));
  replication.start();
  lease.start();

  const Registry = agentProto().berth.v1.Registry;
  const dial = (address: string) => asyncClient(new Registry(address, tls ? channelCredentials(tls, { kind: 'manager' }) : grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
  const managers = new ManagerRing(o.manager, dial, (from, to, why) => log.warn({ from, to, why }, 'manager did not lead or answer; trying the next'));
  const hb = new Heartbeat(
    managers.client(),
    () =>
      probeNode({
        name: o.node,
        agentAddress: advertise,
        host,
        labels: o.label,
        cpuMillis: o.cpus ?? probeCpuMillis(),
        memoryBytes: o.memory ?? probeMemoryBytes(),
        disks,
        portMin: o.ports[0],
        portMax: o.ports[1],
        agentVersion: VERSION,
        dockerVersion,
      }),
    instances,
    log,
    usage,
    { replication, lease },
    revocations,
  );
  nudge = () => hb.nudge();
  hb.start();

  // The MySQL containers keep running: only the agent stops.
  stopOnSignals(
    log,
    'agent',
    server,
    () => {
      hb.stop();
      // Unlike mysqld, the proxy is this process's child: it goes with it (a new agent starts it
      // again at the manager's next routing).
      router.kill();
      usage.stop();
      replication.stop();
      lease.stop();
    },
    3000,
  );
}

runMain('berth-agent', main);
