import fs from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import type { Logger } from '../../src/log';
import { connectSocket, connectTcp, run, waitFor } from '../../src/mysql/connect';
import { dialectFor, parseServerVersion, type Flavor } from '../../src/mysql/dialect';
import { LABEL, type DockerEngine, type OwnedContainer } from '../docker';
import { binds, DEFAULTS_FILE, DIRS, IN_CONTAINER, layoutFor } from './layout';
import { renderMyCnf } from './mycnf';

export interface InstanceSpec {
  id: string;
  name: string;
  image: string;
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
  port: number;
  diskPath: string;
  serverId: number;
  // See AgentCreateInstanceRequest.replica.
  replica?: boolean;
}

export type InstanceState = 'creating' | 'running' | 'stopped' | 'restarting' | 'missing';

export interface InstanceStatus extends Omit<InstanceSpec, 'serverId'> {
  state: InstanceState;
  containerId: string;
  flavor: string;
  version: string;
}

export interface NodeContext {
  node: string;
  host: string;
  disks: string[];
  portMin: number;
  portMax: number;
}

const MYSQLD_READY_TIMEOUT_MS = 120_000;
const INIT_TIMEOUT_MS = 300_000;

// Carries out create/start/stop/remove of MySQL instances on this host. State is never kept
// apart from Docker: every answer is read from the labelled containers, so after a restart
// (or a kill -9) the agent knows exactly what it knew before.
export class Instances {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly flavors = new Map<string, { flavor: Flavor; version: string }>();

  constructor(
    private readonly docker: DockerEngine,
    private readonly ctx: NodeContext,
    private readonly log: Logger,
  ) {}

  private owned = (extra: Record<string, string> = {}) => ({ [LABEL.managed]: 'true', [LABEL.node]: this.ctx.node, ...extra });

  async list(): Promise<InstanceStatus[]> {
    const rows = await this.docker.list(this.owned({ [LABEL.role]: 'mysqld' }));
    return rows.map(fromContainer);
  }

  async get(id: string): Promise<InstanceStatus | undefined> {
    const [row] = await this.docker.list(this.owned({ [LABEL.role]: 'mysqld', [LABEL.instance]: id }));
    return row ? fromContainer(row) : undefined;
  }

  // Init containers live for seconds; one left over means the agent died during a create.
  async removeLeftovers(): Promise<number> {
    const rows = await this.docker.list(this.owned({ [LABEL.role]: 'init' }));
    for (const r of rows) await this.docker.remove(r.id);
    return rows.length;
  }

  create(spec: InstanceSpec, admin: { user: string; password: string }): Promise<InstanceStatus> {
    return this.serialized(spec.id, () => this.doCreate(spec, admin));
  }

  remove(id: string): Promise<boolean> {
    return this.serialized(id, () => this.doRemove(id));
  }

  start(id: string): Promise<InstanceStatus> {
    return this.serialized(id, async () => {
      const cur = await this.mustGet(id);
      await this.docker.start(cur.containerId);
      await this.waitReady(cur.containerId, layoutFor(cur.diskPath, id).socket);
      return this.mustGet(id);
    });
  }

  stop(id: string): Promise<InstanceStatus> {
    return this.serialized(id, async () => {
      const cur = await this.mustGet(id);
      await this.docker.stop(cur.containerId);
      return this.mustGet(id);
    });
  }

  private async mustGet(id: string): Promise<InstanceStatus> {
    const cur = await this.get(id);
    if (!cur) throw notFound(`instance ${id} is not on node ${this.ctx.node}`);
    return cur;
  }

  private async doCreate(spec: InstanceSpec, admin: { user: string; password: string }): Promise<InstanceStatus> {
    this.check(spec);
    const existing = await this.get(spec.id);
    if (existing?.state === 'running') {
      // A retried create (the manager resumed after a restart): make sure the admin user is
      // there, then answer as the first call would have.
      await this.configureUsers(existing.flavor as Flavor, layoutFor(spec.diskPath, spec.id).socket, admin, spec.replica);
      return existing;
    }
    const clash = (await this.list()).find((i) => i.port === spec.port && i.id !== spec.id);
    if (clash) throw failedPrecondition(`port ${spec.port} on node ${this.ctx.node} is taken by instance ${clash.id}`);

    const layout = layoutFor(spec.diskPath, spec.id);
    const { flavor, version } = await this.flavorOf(spec.image);
    for (const d of DIRS) await fs.mkdir(layout.dirs[d], { recursive: true, mode: 0o750 });
    await fs.writeFile(
      layout.mycnf,
      renderMyCnf({ flavor, instanceId: spec.id, serverId: spec.serverId, bindAddress: this.ctx.host, port: spec.port, memoryBytes: spec.memoryBytes, replica: spec.replica }),
      { mode: 0o644 },
    );

    const labels = this.owned({
      [LABEL.instance]: spec.id,
      [LABEL.name]: spec.name,
      [LABEL.port]: String(spec.port),
      [LABEL.disk]: spec.diskPath,
      [LABEL.cpuMillis]: String(spec.cpuMillis),
      [LABEL.memory]: String(spec.memoryBytes),
      [LABEL.diskBytes]: String(spec.diskBytes),
      [LABEL.flavor]: flavor,
      [LABEL.version]: version,
    });

    if (!(await exists(path.join(layout.dirs.data, 'mysql')))) {
      const owners = DIRS.filter((d) => d !== 'conf').map((d) => IN_CONTAINER[d]).join(' ');
      const init = await this.docker.runOnce({
        image: spec.image,
        cmd: ['sh', '-c', `chown -R mysql:mysql ${owners} && ${dialectFor(flavor).initCommand(DEFAULTS_FILE)}`],
        binds: binds(layout),
        labels: { ...labels, [LABEL.role]: 'init' },
        timeoutMs: INIT_TIMEOUT_MS,
      });
      if (init.exitCode !== 0) {
        // A half-initialized data directory must not be mistaken for a good one on retry.
        await fs.rm(layout.dirs.data, { recursive: true, force: true });
        throw new Error(`initializing the data directory failed (exit ${init.exitCode}): ${tail(init.output)}`);
      }
    }

    let containerId = existing?.containerId;
    if (!containerId) {
      containerId = await this.docker.createAndStart({
        // The id suffix keeps names unique even with two managers on one Docker host.
        name: `berth-${spec.name}-${spec.id.slice(2, 8)}`,
        image: spec.image,
        cmd: ['mysqld', `--defaults-file=${DEFAULTS_FILE}`],
        binds: binds(layout),
        labels: { ...labels, [LABEL.role]: 'mysqld' },
        nanoCpus: spec.cpuMillis * 1_000_000,
        memoryBytes: spec.memoryBytes,
      });
    } else {
      await this.docker.start(containerId);
    }
    await this.waitReady(containerId, layout.socket);
    await this.configureUsers(flavor, layout.socket, admin, spec.replica);
    // The real check: the DBA's credentials work over TCP on the address we report.
    const conn = await connectTcp({ host: this.ctx.host, port: spec.port, user: admin.user, password: admin.password });
    await conn.end();
    this.log.info({ instance: spec.id, port: spec.port, containerId: containerId.slice(0, 12) }, 'instance running');
    return this.mustGet(spec.id);
  }

  private async doRemove(id: string): Promise<boolean> {
    const rows = await this.docker.list(this.owned({ [LABEL.instance]: id }));
    const diskPath = rows.find((r) => r.labels[LABEL.disk])?.labels[LABEL.disk];
    for (const r of rows) {
      if (r.labels[LABEL.role] === 'mysqld') await this.docker.stop(r.id);
      await this.docker.remove(r.id);
    }
    // Files can outlive their container (a create that failed before the container existed):
    // look on every disk for the instance's directory.
    let existed = rows.length > 0;
    const candidates = diskPath ? [diskPath] : this.ctx.disks;
    for (const disk of candidates) {
      const root = layoutFor(disk, id).root;
      if (await exists(root)) {
        existed = true;
        await fs.rm(root, { recursive: true, force: true });
      }
    }
    if (existed) this.log.info({ instance: id }, 'instance removed');
    return existed;
  }

  private async waitReady(containerId: string, socket: string): Promise<void> {
    await waitFor(
      'mysqld did not come up',
      async () => {
        const c = await connectSocket(socket, 2000);
        await c.end();
      },
      {
        timeoutMs: MYSQLD_READY_TIMEOUT_MS,
        intervalMs: 250,
        stop: async () => {
          const s = await this.docker.state(containerId);
          if (!s) return 'its container is gone';
          if (s.status === 'exited' || s.restarting) {
            const log = await fs.readFile(path.join(path.dirname(path.dirname(socket)), 'log', 'error.log'), 'utf8').catch(() => '');
            return `mysqld exited (code ${s.exitCode}): ${tail(log)}`;
          }
          return undefined;
        },
      },
    );
  }

  private async configureUsers(flavor: Flavor, socket: string, admin: { user: string; password: string }, replica?: boolean): Promise<void> {
    const d = dialectFor(flavor);
    const conn = await connectSocket(socket);
    try {
      // A replica's own writes would be errant GTIDs (and break MariaDB's strict mode).
      if (replica) await conn.query('SET SESSION sql_log_bin = 0');
      await run(conn, d.lockRootToSocket());
      await run(conn, d.ensureAdminUser(admin.user, admin.password));
    } finally {
      await conn.end();
    }
  }

  private async flavorOf(image: string): Promise<{ flavor: Flavor; version: string }> {
    const imageId = await this.docker.imageId(image);
    const known = this.flavors.get(imageId);
    if (known) return known;
    const out = await this.docker.runOnce({
      image,
      cmd: ['mysqld', '--version'],
      labels: this.owned({ [LABEL.role]: 'init' }),
      timeoutMs: 60_000,
    });
    if (out.exitCode !== 0) throw failedPrecondition(`image ${image} has no working mysqld: ${tail(out.output)}`);
    const found = parseServerVersion(out.output);
    this.flavors.set(imageId, found);
    return found;
  }

  private check(spec: InstanceSpec): void {
    if (spec.port < this.ctx.portMin || spec.port > this.ctx.portMax) {
      throw invalidArgument(`port ${spec.port} is outside node ${this.ctx.node}'s range ${this.ctx.portMin}-${this.ctx.portMax}`);
    }
    if (!this.ctx.disks.includes(spec.diskPath)) {
      throw invalidArgument(`disk ${spec.diskPath} is not one of node ${this.ctx.node}'s data disks (${this.ctx.disks.join(', ')})`);
    }
  }

  // Calls on one instance run one after another (a remove waits for a create in flight).
  private serialized<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return next;
  }
}

function fromContainer(c: OwnedContainer): InstanceStatus {
  const l = c.labels;
  const state: InstanceState = c.state === 'running' ? 'running' : c.state === 'restarting' ? 'restarting' : c.state === 'created' ? 'creating' : 'stopped';
  return {
    id: l[LABEL.instance] ?? '',
    name: l[LABEL.name] ?? '',
    image: c.image,
    cpuMillis: Number(l[LABEL.cpuMillis] ?? 0),
    memoryBytes: Number(l[LABEL.memory] ?? 0),
    diskBytes: Number(l[LABEL.diskBytes] ?? 0),
    port: Number(l[LABEL.port] ?? 0),
    diskPath: l[LABEL.disk] ?? '',
    state,
    containerId: c.id,
    flavor: l[LABEL.flavor] ?? '',
    version: l[LABEL.version] ?? '',
  };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 1500);
}
