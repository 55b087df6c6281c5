import fs from 'node:fs/promises';
import { failedPrecondition, invalidArgument, notFound } from '../../src/errors';
import type { Logger } from '../../src/log';
import { dialectFor, type Flavor } from '../../src/mysql/dialect';
import type { GroupConfig } from '../../src/mysql/dialect-interface';
import { LABEL, type DockerEngine, type OwnedContainer } from '../docker';
import { InstanceContainers } from './container';
import { deleteTrashed, discardData, errorLogTail, exists, initCommand, installTls, isInitialized, prepareDirs, removeInstanceFiles, writeMyCnf } from './datadir';
import type { TlsFiles } from '../../src/tls/credentials';
import { layoutFor, type Layout } from './layout';
import { InstanceLock } from './lock';
import { readRecord, recordFromLabels, writeRecord, type DesiredState } from './record';
import { REPLICA_SECTION } from './mycnf';
import { applyMemoryVariables, nanoCpus, resizeOrder, type ServerReadback } from './resize';
import type { Shape } from '../../src/validate';
import { checkLogin, closeReadOnlyBypassOnSocket, configureUsers, setReadOnly, waitReady } from './sql';
import { Templates } from './template';
import { createSstUser, isGalera, joined, waitSynced } from './galera';
import { errorMessage } from '../../src/errors';

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
  // See AgentCreateInstanceRequest.require_tls.
  requireTls?: boolean;
  // See AgentCreateInstanceRequest.semi_sync_timeout_ms.
  semiSyncTimeoutMs?: number;
  // See AgentCreateInstanceRequest.group.
  group?: GroupConfig;
}

export type InstanceState = 'creating' | 'running' | 'stopped' | 'restarting' | 'missing';

export interface InstanceStatus extends Omit<InstanceSpec, 'serverId' | 'requireTls'> {
  state: InstanceState;
  tls?: { required: boolean };
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
  // The certificate this node's MySQL servers present (mysql-<node>.crt from the fleet CA).
  mysqlTls?: TlsFiles;
}

export interface ResizeReadback {
  instance: InstanceStatus;
  limits: { nanoCpus: number; memoryBytes: number; memorySwapBytes: number };
  server: ServerReadback;
  applyMs: number;
}

export type DesiredChange = Partial<Pick<DesiredState, 'shape' | 'role' | 'readOnly'>>;

const MYSQLD_READY_TIMEOUT_MS = 120_000;
type Admin = { user: string; password: string };

// Carries out create/start/stop/remove of MySQL instances on this host from its parts: Docker
// (container.ts), the files (datadir.ts), SQL (sql.ts) and the per-instance lock (lock.ts).
// What an instance should be is in its desired-state record (record.ts) beside its data; what
// runs is read from the labelled containers. Both survive an agent restart or a kill -9.
export class Instances {
  private readonly lock = new InstanceLock();
  private readonly containers: InstanceContainers;

  // Data directory templates (warm create); absent: every create runs the initializer.
  readonly templates: Templates | undefined;

  constructor(
    private readonly docker: DockerEngine,
    private readonly ctx: NodeContext,
    private readonly log: Logger,
    opts: { templates?: boolean } = {},
  ) {
    this.containers = new InstanceContainers(docker, ctx.node);
    this.templates = opts.templates ? new Templates(this.containers, log) : undefined;
  }

  async list(): Promise<InstanceStatus[]> {
    const out: InstanceStatus[] = [];
    for (const c of await this.containers.mysqlds()) out.push(await this.status(c));
    return out;
  }

  async get(id: string): Promise<InstanceStatus | undefined> {
    const c = await this.containers.mysqld(id);
    return c ? this.status(c) : undefined;
  }

  removeLeftovers(): Promise<number> {
    return this.containers.removeLeftoverInits();
  }

  create(spec: InstanceSpec, admin: Admin): Promise<InstanceStatus> {
    return this.lock.run(spec.id, () => this.doCreate(spec, admin));
  }

  // keepStartedData: the containers go, but files on which mysqld has run stay (a create that
  // failed after mysqld's first start); the answer says whether they stayed, and where.
  // purge: the files are deleted at once rather than kept in the trash (their data lives on
  // elsewhere: a migrated instance's old source, an abandoned copy), but files mysqld has run on
  // only with purgeStartedData (the manager found nothing in them the survivor lacks): a server
  // that ran may have acknowledged a write, and nothing berth deletes may hold one.
  remove(id: string, opts: { keepStartedData?: boolean; purge?: boolean; purgeStartedData?: boolean } = {}): Promise<Removal> {
    return this.lock.run(id, () => this.doRemove(id, opts));
  }

  start(id: string): Promise<InstanceStatus> {
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      await this.docker.start(cur.containerId);
      const layout = layoutFor(cur.diskPath, id);
      await this.waitReady(cur.containerId, layout);
      await this.closeBypass(id, cur.flavor as Flavor, layout);
      return this.mustGet(id);
    });
  }

  stop(id: string): Promise<InstanceStatus> {
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      await this.docker.stop(cur.containerId);
      return this.mustGet(id);
    });
  }

  // Changes what the instance should be (its shape after a `docker update`, its role, read-only)
  // in its record; read-only is applied to a running mysqld at once.
  updateDesired(id: string, change: DesiredChange): Promise<InstanceStatus> {
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      const layout = layoutFor(cur.diskPath, id);
      const rec = await readRecord(layout);
      if (!rec) throw failedPrecondition(`instance ${id} has no desired-state record`);
      const next = { ...rec, ...change, shape: { ...rec.shape, ...change.shape } };
      if (change.readOnly !== undefined && cur.state === 'running') await setReadOnly(rec.flavor as Flavor, layout.socket, change.readOnly);
      await writeRecord(layout, next);
      return this.mustGet(id);
    });
  }

  // In place: limits, then mysqld's memory variables (or the other way round when memory
  // shrinks), my.cnf and the record, then what Docker and mysqld say now.
  resize(id: string, shape: Shape): Promise<ResizeReadback> {
    return this.lock.run(id, async () => {
      const cur = await this.mustGet(id);
      if (cur.state !== 'running') throw failedPrecondition(`instance ${id} is ${cur.state}: only a running instance is resized in place`);
      const layout = layoutFor(cur.diskPath, id);
      const rec = await readRecord(layout);
      if (!rec) throw failedPrecondition(`instance ${id} has no desired-state record`);
      const t0 = Date.now();
      let server: ServerReadback | undefined;
      for (const step of resizeOrder(rec.shape.memoryBytes, shape.memoryBytes)) {
        if (step === 'limits') await this.docker.update(cur.containerId, { nanoCpus: nanoCpus(shape), memoryBytes: shape.memoryBytes });
        else server = await applyMemoryVariables(layout.socket, shape.memoryBytes, rec.flavor as Flavor);
      }
      await writeMyCnf(layout, { flavor: rec.flavor as Flavor, instanceId: id, serverId: rec.serverId, bindAddress: this.ctx.host, port: rec.port, memoryBytes: shape.memoryBytes, diskBytes: shape.diskBytes, replica: await hasReplicaSection(layout), tls: rec.tls, semiSyncTimeoutMs: rec.semiSyncTimeoutMs, group: rec.group });
      await writeRecord(layout, { ...rec, shape });
      const applyMs = Date.now() - t0;
      this.log.info({ instance: id, shape, applyMs }, 'instance resized in place');
      return { instance: await this.mustGet(id), limits: await this.docker.limits(cur.containerId), server: server!, applyMs };
    });
  }

  private async doCreate(spec: InstanceSpec, admin: Admin): Promise<InstanceStatus> {
    this.check(spec);
    const layout = layoutFor(spec.diskPath, spec.id);
    const existing = await this.containers.mysqld(spec.id);
    if (existing?.state === 'running') return this.retriedCreate(spec, layout, admin);
    await this.checkPortFree(spec);
    const { flavor, version, imageId } = await this.containers.flavorOf(spec.image);
    await this.prepare(spec, layout, flavor, version);
    await this.initialize(spec, layout, flavor, imageId);
    let containerId = existing?.id;
    if (containerId) await this.docker.start(containerId);
    else containerId = await this.containers.createMysqld(spec, layout);
    await this.waitReady(containerId, layout);
    await markStarted(layout);
    if (spec.group && dialectFor(flavor).group?.kind === 'galera') await this.galeraStarted(spec, layout, flavor, version, containerId);
    await this.closeBypass(spec.id, flavor, layout);
    await configureUsers(flavor, layout.socket, admin, spec.replica);
    await checkLogin(this.ctx.host, spec.port, admin, this.ctx.mysqlTls?.ca);
    this.log.info({ instance: spec.id, port: spec.port, containerId: containerId.slice(0, 12) }, 'instance running');
    // After the create, so its own initializer never shares the host with the template's.
    void this.templates?.ensure(spec.diskPath, spec.image, imageId, flavor);
    return this.mustGet(spec.id);
  }

  // The manager resumed after a restart and asks again: make sure the admin user is there,
  // then answer as the first call would have.
  private async retriedCreate(spec: InstanceSpec, layout: Layout, admin: Admin): Promise<InstanceStatus> {
    const cur = await this.mustGet(spec.id);
    if (spec.requireTls && !cur.tls?.required) throw failedPrecondition(`instance ${spec.id} runs without required TLS: it was created so`);
    await configureUsers(cur.flavor as Flavor, layout.socket, admin, spec.replica);
    return cur;
  }

  private async checkPortFree(spec: InstanceSpec): Promise<void> {
    const clash = (await this.list()).find((i) => i.port === spec.port && i.id !== spec.id);
    if (clash) throw failedPrecondition(`port ${spec.port} on node ${this.ctx.node} is taken by instance ${clash.id}`);
  }

  // Directories, my.cnf and the record; a record already there keeps its role and read-only.
  private async prepare(spec: InstanceSpec, layout: Layout, flavor: Flavor, version: string): Promise<void> {
    if (spec.group && !dialectFor(flavor).group) throw failedPrecondition(`image ${spec.image} is ${flavor}: it has no consensus clusters`);
    if (dialectFor(flavor).group?.kind === 'galera' && spec.group && !isGalera(spec.group)) throw failedPrecondition(`image ${spec.image} is ${flavor}: a Galera member needs its Galera settings`);
    if (spec.requireTls && !this.ctx.mysqlTls) throw failedPrecondition(`node ${this.ctx.node} has no MySQL certificate (mysql-${this.ctx.node}.crt in its --tls-dir): it cannot require TLS`);
    await prepareDirs(layout);
    const tls = this.ctx.mysqlTls ? { required: !!spec.requireTls } : undefined;
    if (this.ctx.mysqlTls) await installTls(layout, this.ctx.mysqlTls);
    await writeMyCnf(layout, { flavor, instanceId: spec.id, serverId: spec.serverId, bindAddress: this.ctx.host, port: spec.port, memoryBytes: spec.memoryBytes, diskBytes: spec.diskBytes, replica: spec.replica, tls, semiSyncTimeoutMs: spec.semiSyncTimeoutMs, group: spec.group });
    const old = await readRecord(layout).catch(() => undefined);
    const shape = { cpuMillis: spec.cpuMillis, memoryBytes: spec.memoryBytes, diskBytes: spec.diskBytes };
    await writeRecord(layout, {
      version: 1, id: spec.id, name: spec.name, image: spec.image, port: spec.port, diskPath: spec.diskPath, serverId: spec.serverId, shape,
      role: old?.role ?? (spec.replica ? 'replica' : 'standalone'), readOnly: old?.readOnly ?? !!spec.replica, flavor, mysqlVersion: version, updatedAt: '',
      ...(old?.firstStartedAt ? { firstStartedAt: old.firstStartedAt } : {}),
      ...(tls ? { tls } : {}),
      ...(spec.semiSyncTimeoutMs ? { semiSyncTimeoutMs: spec.semiSyncTimeoutMs } : {}),
      ...(spec.group ? { group: spec.group } : {}),
    });
  }

  // From the (image, disk) template when one is ready, else by the image's initializer (the
  // template is then made in the background once the create is done).
  private async initialize(spec: InstanceSpec, layout: Layout, flavor: Flavor, imageId: string): Promise<void> {
    if (await isInitialized(layout)) return;
    const template = await this.templates?.ready(spec.diskPath, imageId);
    if (template) {
      try {
        return await this.templates!.copyInto(template, layout, { imageId });
      } catch (err) {
        this.log.warn({ instance: spec.id, template, err: errorMessage(err) }, 'copying the data directory template failed; initializing');
      }
    }
    try {
      await this.containers.runInit(spec.image, initCommand(flavor), layout, spec.id, spec.diskPath);
    } catch (err) {
      await discardData(layout);
      throw err;
    }
  }

  private async doRemove(id: string, opts: { keepStartedData?: boolean; purge?: boolean; purgeStartedData?: boolean }): Promise<Removal> {
    const { removed, diskPath } = await this.containers.removeAll(id);
    const disks = diskPath ? [diskPath] : this.ctx.disks;
    const started = await startedDataOn(disks, id);
    if (opts.keepStartedData && started) {
      this.log.warn({ instance: id, dataPath: started }, 'containers removed; data kept: mysqld had started on it');
      return { existed: true, dataKept: true, dataPath: started, trashPath: '' };
    }
    const trashed = await removeInstanceFiles(disks, id);
    const existed = removed > 0 || trashed.length > 0;
    const purge = Boolean(opts.purge && (!started || opts.purgeStartedData));
    if (purge && trashed.length) {
      const { failed } = await deleteTrashed(trashed);
      if (failed.length) this.log.warn({ instance: id, failed }, 'purging remove: files left in the trash until --trash-retention');
    } else if (opts.purge && trashed.length) {
      this.log.warn({ instance: id, trash: trashed }, 'not purged: mysqld ran on these files and nobody showed they hold nothing the survivor lacks; kept in the trash');
    }
    if (existed) this.log.info({ instance: id, purged: purge }, 'instance removed');
    return { existed, dataKept: false, dataPath: '', trashPath: purge ? '' : (trashed[0] ?? '') };
  }

  // At every boot, before anything else: a copy of data made before berth's accounts lost
  // their read-only bypass (or an account given one by hand as root) is closed again.
  private async closeBypass(id: string, flavor: Flavor, layout: Layout): Promise<void> {
    const closed = await closeReadOnlyBypassOnSocket(flavor, layout.socket);
    if (closed.length) this.log.warn({ instance: id, accounts: closed.map((a) => `${a.user}@${a.host}`) }, 'accounts that could write through read-only lost that right');
  }

  // Synced first (a joiner's state transfer is done); the first member then makes the state
  // transfer account, and from here on its my.cnf and record join the peers.
  private async galeraStarted(spec: InstanceSpec, layout: Layout, flavor: Flavor, version: string, containerId: string): Promise<void> {
    await waitSynced(flavor, layout.socket, MYSQLD_READY_TIMEOUT_MS, () => this.exited(containerId, layout));
    if (!spec.group!.galera!.bootstrap) return;
    await createSstUser(flavor, layout.socket, spec.group!);
    await this.prepare({ ...spec, group: joined(spec.group!) }, layout, flavor, version);
  }

  private async exited(containerId: string, layout: Layout): Promise<string | undefined> {
    const s = await this.docker.state(containerId);
    if (!s) return 'its container is gone';
    if (s.status === 'exited' || s.restarting) return `mysqld exited (code ${s.exitCode}): ${await errorLogTail(layout)}`;
    return undefined;
  }

  private async waitReady(containerId: string, layout: Layout): Promise<void> {
    await waitReady(layout.socket, MYSQLD_READY_TIMEOUT_MS, async () => {
      const s = await this.docker.state(containerId);
      if (!s) return 'its container is gone';
      if (s.status === 'exited' || s.restarting) return `mysqld exited (code ${s.exitCode}): ${await errorLogTail(layout)}`;
      return undefined;
    });
  }

  private async status(c: OwnedContainer): Promise<InstanceStatus> {
    const rec = await this.recordOf(c);
    const state: InstanceState = c.state === 'running' ? 'running' : c.state === 'restarting' ? 'restarting' : c.state === 'created' ? 'creating' : 'stopped';
    return {
      id: c.labels[LABEL.instance] ?? '',
      name: rec?.name ?? '',
      image: c.image,
      cpuMillis: rec?.shape.cpuMillis ?? 0,
      memoryBytes: rec?.shape.memoryBytes ?? 0,
      diskBytes: rec?.shape.diskBytes ?? 0,
      port: rec?.port ?? 0,
      diskPath: c.labels[LABEL.disk] ?? '',
      state,
      containerId: c.id,
      flavor: rec?.flavor ?? '',
      version: rec?.mysqlVersion ?? '',
      ...(rec?.tls ? { tls: rec.tls } : {}),
    };
  }

  // The record beside the data; for a container made before records existed, written once
  // from its labels (and the server id in its my.cnf).
  private async recordOf(c: OwnedContainer): Promise<DesiredState | undefined> {
    const id = c.labels[LABEL.instance];
    const disk = c.labels[LABEL.disk];
    if (!id || !disk) return undefined;
    const layout = layoutFor(disk, id);
    const rec = await readRecord(layout).catch((err: Error) => this.log.warn({ instance: id, err: err.message }, 'unreadable instance record; using labels'));
    if (rec) return rec;
    const fromLabels = recordFromLabels(c.labels, c.image);
    if (!fromLabels || !(await exists(layout.root))) return fromLabels;
    const cnf = await fs.readFile(layout.mycnf, 'utf8').catch(() => '');
    fromLabels.serverId = Number(/^server-id = (\d+)$/m.exec(cnf)?.[1] ?? 0);
    await writeRecord(layout, fromLabels);
    this.log.info({ instance: id }, 'wrote the desired-state record of a container made before records existed');
    return fromLabels;
  }

  private async mustGet(id: string): Promise<InstanceStatus> {
    const cur = await this.get(id);
    if (!cur) throw notFound(`instance ${id} is not on node ${this.ctx.node}`);
    return cur;
  }

  private check(spec: InstanceSpec): void {
    if (spec.port < this.ctx.portMin || spec.port > this.ctx.portMax) {
      throw invalidArgument(`port ${spec.port} is outside node ${this.ctx.node}'s range ${this.ctx.portMin}-${this.ctx.portMax}`);
    }
    if (!this.ctx.disks.includes(spec.diskPath)) {
      throw invalidArgument(`disk ${spec.diskPath} is not one of node ${this.ctx.node}'s data disks (${this.ctx.disks.join(', ')})`);
    }
  }
}

export interface Removal {
  existed: boolean;
  dataKept: boolean;
  dataPath: string;
  // Where the files went when they stayed in the trash.
  trashPath: string;
}

// Written once, the first time mysqld answers on this data directory.
async function markStarted(layout: Layout): Promise<void> {
  const rec = await readRecord(layout);
  if (rec && !rec.firstStartedAt) await writeRecord(layout, { ...rec, firstStartedAt: new Date().toISOString() });
}

// The instance directory on one of these disks, when mysqld has started on it once.
async function startedDataOn(disks: readonly string[], id: string): Promise<string | undefined> {
  for (const disk of disks) {
    const layout = layoutFor(disk, id);
    const rec = await readRecord(layout).catch(() => undefined);
    if (rec?.firstStartedAt) return layout.root;
  }
  return undefined;
}

// A replica's my.cnf keeps its replica lines through a resize (the promotion drops them).
async function hasReplicaSection(layout: Layout): Promise<boolean> {
  return (await fs.readFile(layout.mycnf, 'utf8').catch(() => '')).includes(REPLICA_SECTION);
}
