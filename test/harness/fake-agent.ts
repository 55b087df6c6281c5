import * as grpc from '@grpc/grpc-js';
import type { AgentHandlers } from '../../src/gen/berth/v1/Agent';
import type { AgentInstance } from '../../src/gen/berth/v1/AgentInstance';
import type { AgentCreateInstanceRequest__Output } from '../../src/gen/berth/v1/AgentCreateInstanceRequest';
import type { RegistryClient } from '../../src/gen/berth/v1/Registry';
import { agentProto } from '../../src/proto';
import { asyncClient, bindServer, CHANNEL_OPTIONS, guarded, type AsyncClient } from '../../src/rpc';
import { issueCert } from '../../src/tls/ca';
import { channelCredentials, filesIn, peerOf, serverCredentials, type TlsFiles } from '../../src/tls/credentials';

export interface FakeNodeSpec {
  name: string;
  cpuMillis: number;
  memoryBytes: number;
  // Data disks, in bytes.
  disks: number[];
  ports: [number, number];
  labels?: Record<string, string>;
  // Ports something other than berth listens on (reported busy when inside the range).
  foreignPorts?: number[];
  // Bytes an instance's files really take on its disk, as a share of its reservation: a fresh
  // MySQL uses a small part of what it reserved. Free space = size - foreign use - this.
  diskUseRatio?: number;
  // Bytes on each disk taken by things berth does not account for.
  foreignDiskBytes?: number[];
}

// Where a create can be made to fail, as the real agent fails: before it wrote anything (a bad
// image), after the instance directory exists (initialization failed), or after the mysqld
// container was started (mysqld exited). Whatever was made stays until RemoveInstance.
export type FailPoint = 'before-files' | 'after-files' | 'after-mysqld';

interface Gate {
  reached: Promise<void>;
  release: () => void;
}

const ID = /^i-[0-9a-f]{10,32}$/;

function rpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata: new grpc.Metadata() });
}

// A simulated host for tests at a scale no real Docker on one machine reaches, and for failures
// a real host only shows by accident: a real gRPC Agent server and a real registration +
// heartbeat loop against the manager; the instances it "creates" exist only in memory. It tells
// the truth the real agent tells: busy ports include its instances' ports and foreign
// listeners, free disk space shrinks as instances are placed, creates are checked against its
// port range and disks, and files outlive a failed create until RemoveInstance.
export class FakeAgent {
  // Instances with a (simulated) mysqld container, in any state.
  readonly instances = new Map<string, AgentInstance>();
  // Instance directories on the simulated disks.
  readonly files = new Map<string, { diskPath: string; diskBytes: number }>();
  // Every call the manager made, in order: "CreateInstance i-…".
  readonly calls: string[] = [];
  private server?: grpc.Server;
  private registry?: AsyncClient<RegistryClient>;
  private timer?: NodeJS.Timeout;
  private failures: { point: FailPoint; message: string }[] = [];
  private removeFailures: string[] = [];
  private gates = new Map<string, { gate: Gate; resolveReached: () => void; released: Promise<void> }>();
  address = '';

  constructor(
    readonly spec: FakeNodeSpec,
    private readonly managerAddress: string,
    // The run's CA directory: the fake serves and registers with its node's certificate, and
    // like a real agent answers only the manager. Undefined: plaintext (--insecure managers).
    private readonly tlsDir?: string,
  ) {}

  private tls(): TlsFiles | undefined {
    if (!this.tlsDir) return undefined;
    issueCert(this.tlsDir, 'node', this.spec.name);
    return filesIn(this.tlsDir, 'node', this.spec.name);
  }

  async start(): Promise<this> {
    this.server = new grpc.Server();
    const tls = this.tls();
    const onlyManager = (call: grpc.ServerUnaryCall<unknown, unknown>) => {
      if (tls && peerOf(call)?.kind !== 'manager') throw new Error('only the manager may call the agent');
    };
    this.server.addService(agentProto().berth.v1.Agent.service, guarded(this.handlers() as unknown as AgentHandlers, onlyManager) as unknown as grpc.UntypedServiceImplementation);
    const port = await bindServer(this.server, '127.0.0.1:0', serverCredentials(tls, 'require'));
    this.address = `127.0.0.1:${port}`;
    const Registry = agentProto().berth.v1.Registry;
    this.registry = asyncClient(new Registry(this.managerAddress, tls ? channelCredentials(tls, { kind: 'manager' }) : grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
    await this.register();
    this.timer = setInterval(() => void this.heartbeat().catch(() => undefined), 1000);
    return this;
  }

  // The next create fails at this point.
  failNextCreate(point: FailPoint, message = `injected failure ${point}`): void {
    this.failures.push({ point, message });
  }

  // The next `times` removes fail (the disk is busy, say) without removing anything.
  failNextRemove(times = 1, message = 'injected remove failure'): void {
    for (let i = 0; i < times; i++) this.removeFailures.push(message);
  }

  // The next call of this method blocks until released; `reached` resolves once it is blocked.
  hold(method: 'CreateInstance' | 'RemoveInstance'): Gate {
    let release!: () => void;
    let resolveReached!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const reached = new Promise<void>((r) => (resolveReached = r));
    const gate = { reached, release };
    this.gates.set(method, { gate, resolveReached, released });
    return gate;
  }

  // The host vanishes: its gRPC server drops every call in flight and it stops heartbeating.
  // What it made stays, as on a real host.
  crash(): void {
    clearInterval(this.timer);
    this.registry?.close();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  // Comes back (on a new port) with what it had, and registers again.
  async restart(): Promise<this> {
    this.crash();
    return this.start();
  }

  busyPorts(): number[] {
    const [min, max] = this.spec.ports;
    const ports = new Set<number>([...(this.spec.foreignPorts ?? []), ...[...this.instances.values()].filter((i) => i.state === 'running').map((i) => i.port ?? 0)]);
    return [...ports].filter((p) => p >= min && p <= max).sort((a, b) => a - b);
  }

  diskPath(i: number): string {
    return `/fake/${this.spec.name}/data${i + 1}`;
  }

  disks() {
    const ratio = this.spec.diskUseRatio ?? 0.1;
    return this.spec.disks.map((total, i) => {
      const path = this.diskPath(i);
      let used = this.spec.foreignDiskBytes?.[i] ?? 0;
      for (const f of this.files.values()) if (f.diskPath === path) used += Math.floor(f.diskBytes * ratio);
      return { path, totalBytes: total, freeBytes: Math.max(0, total - used) };
    });
  }

  // Create, delete and inspection only: data movement answers UNIMPLEMENTED on a simulated host.
  private handlers(): Pick<AgentHandlers, 'CreateInstance' | 'InspectInstance' | 'RemoveInstance' | 'StartInstance' | 'StopInstance' | 'ListInstances'> {
    const call = <Req, Res>(name: string, fn: (req: Req) => Promise<Res> | Res): grpc.handleUnaryCall<Req, Res> => (c, cb) => {
      this.calls.push(`${name} ${(c.request as { id?: string }).id ?? ''}`.trim());
      Promise.resolve()
        .then(() => this.gated(name))
        .then(() => fn(c.request))
        .then((r) => cb(null, r), (err: grpc.ServiceError) => cb(err));
    };
    return {
      CreateInstance: call('CreateInstance', (r: AgentCreateInstanceRequest__Output) => this.create(r)),
      InspectInstance: call('InspectInstance', (r: { id: string }) => {
        const i = this.instances.get(this.checkId(r.id));
        if (!i) throw rpcError(grpc.status.NOT_FOUND, `instance ${r.id} is not on this node`);
        return i;
      }),
      RemoveInstance: call('RemoveInstance', (r: { id: string }) => {
        const id = this.checkId(r.id);
        const fail = this.removeFailures.shift();
        if (fail) throw rpcError(grpc.status.INTERNAL, fail);
        const existed = this.instances.delete(id) || this.files.has(id);
        this.files.delete(id);
        return { existed };
      }),
      StartInstance: call('StartInstance', (r: { id: string }) => this.mustGet(r.id)),
      StopInstance: call('StopInstance', (r: { id: string }) => this.mustGet(r.id)),
      ListInstances: call('ListInstances', () => ({ instances: [...this.instances.values()] })),
    };
  }

  private async gated(method: string): Promise<void> {
    const g = this.gates.get(method);
    if (!g) return;
    this.gates.delete(method);
    g.resolveReached();
    await g.released;
  }

  private create(r: AgentCreateInstanceRequest__Output): AgentInstance {
    const id = this.checkId(r.id);
    const res = r.resources;
    if (!res || res.cpuMillis <= 0 || res.memoryBytes <= 0 || res.diskBytes <= 0) throw rpcError(grpc.status.INVALID_ARGUMENT, 'resources must be positive');
    if (!r.adminUser || !r.adminPassword) throw rpcError(grpc.status.INVALID_ARGUMENT, 'admin user and password are required');
    const [min, max] = this.spec.ports;
    if (r.port < min || r.port > max) throw rpcError(grpc.status.INVALID_ARGUMENT, `port ${r.port} is outside node ${this.spec.name}'s range ${min}-${max}`);
    if (!this.spec.disks.some((_, i) => this.diskPath(i) === r.diskPath)) {
      throw rpcError(grpc.status.INVALID_ARGUMENT, `disk ${r.diskPath} is not one of node ${this.spec.name}'s data disks`);
    }
    const existing = this.instances.get(id);
    if (existing?.state === 'running') return existing; // a retried create answers as the first did
    const clash = [...this.instances.values()].find((i) => i.port === r.port && i.id !== id);
    if (clash) throw rpcError(grpc.status.FAILED_PRECONDITION, `port ${r.port} on node ${this.spec.name} is taken by instance ${clash.id}`);
    const fail = this.failures.shift();
    if (fail?.point === 'before-files') throw rpcError(grpc.status.FAILED_PRECONDITION, fail.message);
    this.files.set(id, { diskPath: r.diskPath, diskBytes: res.diskBytes });
    if (fail?.point === 'after-files') throw new Error(`initializing the data directory failed (exit 1): ${fail.message}`);
    const inst: AgentInstance = { id, name: r.name, state: 'running', containerId: `fake-${id}`, port: r.port, diskPath: r.diskPath, image: r.image, flavor: 'mariadb', version: '10.11.0-fake', resources: res };
    if (fail?.point === 'after-mysqld' || this.spec.foreignPorts?.includes(r.port)) {
      this.instances.set(id, { ...inst, state: 'stopped' });
      throw new Error(`mysqld did not come up: mysqld exited (code 1): ${fail?.message ?? `Can't start server: Bind on TCP/IP port: Address already in use (port ${r.port})`}`);
    }
    this.instances.set(id, inst);
    return inst;
  }

  private checkId(id: string): string {
    if (!ID.test(id)) throw rpcError(grpc.status.INVALID_ARGUMENT, `instance id "${id}" is not a berth instance id`);
    return id;
  }

  private mustGet(id: string): AgentInstance {
    const i = this.instances.get(this.checkId(id));
    if (!i) throw rpcError(grpc.status.NOT_FOUND, `instance ${id} is not on node ${this.spec.name}`);
    return i;
  }

  private async register(): Promise<void> {
    await this.registry!.register({
      node: {
        name: this.spec.name,
        agentAddress: this.address,
        host: '127.0.0.1',
        labels: this.spec.labels ?? {},
        cpuMillis: this.spec.cpuMillis,
        memoryBytes: this.spec.memoryBytes,
        disks: this.disks(),
        portMin: this.spec.ports[0],
        portMax: this.spec.ports[1],
        agentVersion: 'fake',
        dockerVersion: 'none',
        busyPorts: this.busyPorts(),
      },
      instances: [...this.instances.values()],
    });
  }

  // Sends one heartbeat now (the loop sends one a second).
  async heartbeat(): Promise<void> {
    const res = await this.registry!.heartbeat({ node: this.spec.name, disks: this.disks(), instances: [...this.instances.values()], busyPorts: this.busyPorts() });
    if (res.reregister) await this.register();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.registry?.close();
    const s = this.server;
    this.server = undefined;
    // tryShutdown waits for every open call; a manager still calling in (a create it retries,
    // a stream it holds) would keep it waiting past the hook's timeout, so cut them after 2 s.
    if (s) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          s.forceShutdown();
          resolve();
        }, 2000);
        s.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
