import * as grpc from '@grpc/grpc-js';
import type { AgentHandlers } from '../../src/gen/berth/v1/Agent';
import type { AgentInstance } from '../../src/gen/berth/v1/AgentInstance';
import type { RegistryClient } from '../../src/gen/berth/v1/Registry';
import { agentProto } from '../../src/proto';
import { asyncClient, bindServer, CHANNEL_OPTIONS, guarded, type AsyncClient } from '../../src/rpc';
import { issueCert } from '../../src/tls/ca';
import { channelCredentials, filesIn, peerOf, serverCredentials, type TlsFiles } from '../../src/tls/credentials';

export interface FakeNodeSpec {
  name: string;
  cpuMillis: number;
  memoryBytes: number;
  // Data disks, in bytes (real free space reported = size).
  disks: number[];
  ports: [number, number];
  labels?: Record<string, string>;
}

// A simulated host for scheduler tests at a scale no real Docker on one machine reaches: a real
// gRPC Agent server and a real registration + heartbeat loop against the manager, but the
// instances it "creates" exist only in memory and are reported running at once. Everything
// between berthctl and the agent (sockets, manager, store, transactions) is the real thing.
export class FakeAgent {
  readonly instances = new Map<string, AgentInstance>();
  private server = new grpc.Server();
  private registry?: AsyncClient<RegistryClient>;
  private timer?: NodeJS.Timeout;
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
    const h: AgentHandlers = {
      CreateInstance: (call, cb) => {
        const r = call.request;
        const inst: AgentInstance = { id: r.id, name: r.name, state: 'running', containerId: `fake-${r.id}`, port: r.port, diskPath: r.diskPath, image: r.image, flavor: 'mariadb', version: '10.11.0-fake', resources: r.resources };
        this.instances.set(r.id, inst);
        cb(null, inst);
      },
      InspectInstance: (call, cb) => {
        const i = this.instances.get(call.request.id);
        cb(null, i ?? { id: call.request.id, state: 'missing' });
      },
      RemoveInstance: (call, cb) => cb(null, { existed: this.instances.delete(call.request.id) }),
      StartInstance: (call, cb) => cb(null, this.instances.get(call.request.id) ?? { id: call.request.id, state: 'missing' }),
      StopInstance: (call, cb) => cb(null, this.instances.get(call.request.id) ?? { id: call.request.id, state: 'missing' }),
      ListInstances: (_call, cb) => cb(null, { instances: [...this.instances.values()] }),
    };
    const tls = this.tls();
    const onlyManager = (call: grpc.ServerUnaryCall<unknown, unknown>) => {
      if (tls && peerOf(call)?.kind !== 'manager') throw new Error('only the manager may call the agent');
    };
    this.server.addService(agentProto().berth.v1.Agent.service, guarded(h, onlyManager));
    const port = await bindServer(this.server, '127.0.0.1:0', serverCredentials(tls, 'require'));
    this.address = `127.0.0.1:${port}`;
    const Registry = agentProto().berth.v1.Registry;
    this.registry = asyncClient(new Registry(this.managerAddress, tls ? channelCredentials(tls, { kind: 'manager' }) : grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
    await this.register();
    this.timer = setInterval(() => void this.heartbeat().catch(() => undefined), 1000);
    return this;
  }

  private disks() {
    return this.spec.disks.map((b, i) => ({ path: `/fake/${this.spec.name}/data${i + 1}`, totalBytes: b, freeBytes: b }));
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
        busyPorts: [],
      },
      instances: [...this.instances.values()],
    });
  }

  private async heartbeat(): Promise<void> {
    const res = await this.registry!.heartbeat({ node: this.spec.name, disks: this.disks(), instances: [...this.instances.values()], busyPorts: [] });
    if (res.reregister) await this.register();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.registry?.close();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
