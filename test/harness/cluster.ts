import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import type { AgentClient } from '../../src/gen/berth/v1/Agent';
import type { PortalClient } from '../../src/gen/berth/v1/Portal';
import { agentProto, portalProto } from '../../src/proto';
import { asyncClient, CHANNEL_OPTIONS, EPOCH_METADATA, metadataInterceptor, type AsyncClient } from '../../src/rpc';
import { orderedAgent } from '../../manager/agents/pool';
import { EpochFence } from '../../agent/epoch';
import { endProxiesUnder } from './proxies';
import { initCa, issueCert, type CertKind } from '../../src/tls/ca';
import { channelCredentials, filesIn, type TlsFiles } from '../../src/tls/credentials';

export const ROOT = path.resolve(__dirname, '..', '..');
export const docker = new Docker({ socketPath: process.env.BERTH_DOCKER_SOCKET ?? '/var/run/docker.sock' });

// What `berthctl instance create --wait --json` prints.
export interface CreatedJson {
  id: string;
  node: string;
  host: string;
  port: number;
  user: string;
  password: string;
  state: string;
}

export interface AgentSpec {
  // Suffix of the node name; the harness prefixes a per-run id so parallel runs never collide.
  name: string;
  host: string;
  ports: string;
  labels?: Record<string, string>;
  disks?: number;
  cpus?: string;
  memory?: string;
  // Data disk directories to use instead of fresh temp directories (loop mounts, say).
  diskPaths?: string[];
  // Extra agent flags.
  args?: string[];
}

export interface RunningAgent {
  spec: AgentSpec;
  node: string;
  address: string;
  disks: string[];
  proc?: ChildProcess;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

// Polls a condition instead of sleeping a fixed time.
export async function waitUntil<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function startProcess(args: string[], logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', out, out], env: { ...process.env, BERTH_LOG_LEVEL: 'debug' } });
  fs.closeSync(out);
  return p;
}

// A manager and agents as separate processes on loopback addresses, each agent with its own
// data directories and port range, talking to the real Docker engine.
export class TestCluster {
  readonly id = randomBytes(3).toString('hex');
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-it-'));
  managerPort = 0;
  registryPort = 0;
  // A fresh CA per run (TLS everywhere, as in production); undefined with insecure.
  readonly tlsDir = path.join(this.dir, 'tls');
  // The manager's admin HTTP port: a free one per run unless the test passes --admin-listen.
  adminPort = 0;
  manager?: ChildProcess;
  agents: RunningAgent[] = [];
  portal!: AsyncClient<PortalClient>;

  constructor(
    private readonly managerArgs: string[] = [],
    readonly insecure = false,
  ) {
    if (!insecure) {
      initCa(this.tlsDir);
      issueCert(this.tlsDir, 'manager', 'manager');
      issueCert(this.tlsDir, 'admin', 'admin');
    }
  }

  get managerAddress(): string {
    return `127.0.0.1:${this.managerPort}`;
  }

  get registryAddress(): string {
    return `127.0.0.1:${this.registryPort}`;
  }

  // Certificate files for an identity of this run's CA (made on first use).
  certFor(kind: CertKind, name: string): TlsFiles {
    issueCert(this.tlsDir, kind, name);
    return filesIn(this.tlsDir, kind, name);
  }

  // A portal client holding a certificate of the given role (or none: token or anonymous).
  portalAs(kind: CertKind | 'none', name: string = kind, metadata?: grpc.Metadata): AsyncClient<PortalClient> {
    return asyncClient(this.rawPortal(kind, name) as PortalClient, undefined, metadata);
  }

  rawPortal(kind: CertKind | 'none', name: string = kind): grpc.Client {
    const Portal = portalProto().berth.v1.Portal;
    const creds =
      this.insecure ? grpc.credentials.createInsecure()
      : kind === 'none' ? channelCredentials(filesIn(this.tlsDir, 'admin', 'admin'), { kind: 'manager' }, false)
      : channelCredentials(this.certFor(kind, name), { kind: 'manager' });
    return new Portal(this.managerAddress, creds, CHANNEL_OPTIONS);
  }

  // An Agent client as the manager calls it: the manager's certificate, the agent's node
  // certificate expected (plaintext when the run is --insecure).
  // This test plays the manager and shares the agent's clock: its write grants are based on now.
  agentClient(address: string): AsyncClient<AgentClient> {
    return orderedAgent(asyncClient(this.rawAgent(address)), () => ({ baseMs: Date.now(), grantMs: 4000 }));
  }

  // The same, for the agent's server-streaming calls.
  rawAgent(address: string): AgentClient {
    const Agent = agentProto().berth.v1.Agent;
    const creds = this.insecure ? grpc.credentials.createInsecure() : channelCredentials(this.certFor('manager', 'manager'), { kind: 'node' });
    return new Agent(address, creds, this.agentChannelOptions(address)) as unknown as AgentClient;
  }

  // Channel options for a client playing the manager toward an agent: it sends the highest
  // leader epoch the agent has seen (read from the agent's file at each call), as the leader
  // would; the agent refuses a call without one once a manager has sent it one.
  agentChannelOptions(address: string): grpc.ChannelOptions {
    return { ...CHANNEL_OPTIONS, interceptors: [metadataInterceptor(EPOCH_METADATA, () => this.agentEpoch(address))] };
  }

  agentEpoch(address: string): string | undefined {
    const a = this.agents.find((x) => x.address === address);
    if (!a) return undefined;
    try {
      return fs.readFileSync(EpochFence.fileFor(a.disks[0]!), 'utf8').trim() || undefined;
    } catch {
      return undefined;
    }
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  nodeName(suffix: string): string {
    return `t${this.id}-${suffix}`;
  }

  async start(specs: AgentSpec[]): Promise<this> {
    this.managerPort = await freePort();
    this.registryPort = await freePort();
    if (!this.insecure) {
      // berthctl processes a test spawns find this run's admin certificate.
      const f = filesIn(this.tlsDir, 'admin', 'admin');
      Object.assign(process.env, { BERTH_CA: f.ca, BERTH_CERT: f.cert, BERTH_KEY: f.key });
    } else process.env.BERTH_INSECURE = '1';
    const i = this.managerArgs.indexOf('--admin-listen');
    if (i >= 0) this.adminPort = Number(this.managerArgs[i + 1]?.split(':').pop());
    else this.adminPort = await freePort();
    this.startManager();
    this.portal = this.portalAs('admin');
    for (const spec of specs) {
      const node = this.nodeName(spec.name);
      const disks = spec.diskPaths ?? Array.from({ length: spec.disks ?? 1 }, (_, i) => path.join(this.dir, node, `data${i + 1}`));
      const a: RunningAgent = { spec, node, address: `${spec.host}:${await freePort(spec.host)}`, disks };
      this.agents.push(a);
      this.startAgent(a);
    }
    await this.waitForNodes();
    return this;
  }

  // `extra`: flags for this start only (after the cluster's own).
  // The admin HTTP server needs a token by default (the manager makes one in its state
  // directory). Suites that pass neither --admin-token nor this get --admin-unauthenticated, so
  // their plain fetches of /v1 keep working; a suite testing the default sets this to true.
  adminAuthDefault = false;

  // The token the manager made in its state directory (adminAuthDefault runs).
  get adminTokenFile(): string {
    return path.join(this.dir, 'manager', 'admin-token');
  }

  startManager(extra: string[] = []): void {
    const all = [...this.managerArgs, ...extra];
    const adminAuth = all.includes('--admin-token') || all.includes('--admin-unauthenticated') || this.adminAuthDefault ? [] : ['--admin-unauthenticated'];
    this.manager = startProcess(
      [
        'dist/manager/main.js',
        '--listen',
        this.managerAddress,
        '--registry-listen',
        this.registryAddress,
        ...(this.insecure ? ['--insecure'] : ['--tls-dir', this.tlsDir]),
        '--state-dir',
        path.join(this.dir, 'manager'),
        ...(this.managerArgs.includes('--admin-listen') ? [] : ['--admin-listen', `127.0.0.1:${this.adminPort}`]),
        ...adminAuth,
        ...this.managerArgs,
        ...extra,
      ],
      path.join(this.dir, 'manager.log'),
    );
  }

  async restartManager(): Promise<void> {
    await stopProcess(this.manager, 'SIGKILL');
    this.startManager();
    await this.waitForNodes();
  }

  startAgent(a: RunningAgent): void {
    const args = ['dist/agent/main.js', '--manager', this.registryAddress, '--listen', a.address, '--node', a.node, '--ports', a.spec.ports];
    if (this.insecure) args.push('--insecure');
    else (issueCert(this.tlsDir, 'node', a.node), args.push('--tls-dir', this.tlsDir));
    for (const d of a.disks) args.push('--disk', d);
    for (const [k, v] of Object.entries(a.spec.labels ?? {})) args.push('--label', `${k}=${v}`);
    if (a.spec.cpus) args.push('--cpus', a.spec.cpus);
    if (a.spec.memory) args.push('--memory', a.spec.memory);
    // Off unless a suite asks: a background template build would share the 2 cores with the
    // suite under test (test/warm-create.test.ts turns it on).
    args.push('--templates', 'off', ...(a.spec.args ?? []));
    a.proc = startProcess(args, path.join(this.dir, `${a.node}.log`));
  }

  // An agent (re)started is ready once its gRPC port accepts connections: the node's state alone
  // can still read "ready" from the heartbeats of the process that was killed.
  async agentListening(a: RunningAgent): Promise<void> {
    const { host, port } = { host: a.spec.host, port: Number(a.address.split(':').pop()) };
    await waitUntil(`agent ${a.node} listening on ${a.address}`, () => new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    }), 30_000);
  }

  async killAgent(a: RunningAgent, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await stopProcess(a.proc, signal);
    a.proc = undefined;
  }

  async waitForNodes(): Promise<void> {
    // The manager binds its admin HTTP port last: until it has, the port this run chose for it
    // is free, and a simulated host binding port 0 could be given it (the manager then goes on
    // without its admin server, and the suite's HTTP calls reach the wrong server).
    await waitUntil('the admin HTTP server to answer', async () => (await fetch(`${this.adminUrl}/`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, () => 0)) > 0 || undefined, 30_000);
    const want = new Set(this.agents.filter((a) => a.proc).map((a) => a.node));
    await waitUntil(
      `nodes ${[...want].join(', ')} to be ready`,
      async () => {
        const { nodes } = await this.portal.listNodes({}, 2000);
        const ready = nodes.filter((n) => n.state === "ready").map((n) => n.name);
        return [...want].every((n) => ready.includes(n)) ? nodes : undefined;
      },
      60_000,
    );
  }

  // Containers this run's agents made (the labels carry the per-run node names).
  async containers(all = true): Promise<Docker.ContainerInfo[]> {
    const out: Docker.ContainerInfo[] = [];
    for (const a of this.agents) {
      out.push(...(await docker.listContainers({ all, filters: JSON.stringify({ label: [`berth.node=${a.node}`] }) })));
    }
    return out;
  }

  logs(): string {
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.log'))
      .map((f) => `==> ${f}\n${fs.readFileSync(path.join(this.dir, f), 'utf8').split('\n').slice(-40).join('\n')}`)
      .join('\n');
  }

  async stop(): Promise<void> {
    this.portal?.close();
    await Promise.all([...this.agents.map((a) => stopProcess(a.proc, 'SIGTERM')), stopProcess(this.manager, 'SIGTERM')]);
    for (const c of await this.containers()) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    // An agent killed by a test leaves the HAProxy it supervised (router nodes) running.
    endProxiesUnder(this.dir);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // The run's logs copied out of its directory (removed by stop()) for whoever reads a failure:
  // `${what} (logs kept in <dir>)`.
  keepLogs(prefix: string, what: string): string {
    const keep = fs.mkdtempSync(path.join('/tmp', `${prefix}-`));
    for (const l of fs.readdirSync(this.dir).filter((n) => n.endsWith('.log'))) fs.copyFileSync(path.join(this.dir, l), path.join(keep, l));
    return `${what} (logs kept in ${keep})`;
  }
}

async function stopProcess(p: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
    }, 5000);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    p.kill(signal);
  });
}
