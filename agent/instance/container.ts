import { failedPrecondition } from '../../src/errors';
import { parseServerVersion, type Flavor } from '../../src/mysql/dialect';
import { LABEL, type DockerEngine, type OwnedContainer, type Role } from '../docker';
import { binds, DEFAULTS_FILE, type Layout } from './layout';
import { tail } from './datadir';

const INIT_TIMEOUT_MS = 300_000;

export interface MysqldContainerSpec {
  id: string;
  name: string;
  image: string;
  diskPath: string;
  cpuMillis: number;
  memoryBytes: number;
}

// The Docker side of this node's instances: every container is labelled as this agent's, and
// every listing filters on those labels, so other containers on the host are never seen.
export class InstanceContainers {
  private readonly flavors = new Map<string, { flavor: Flavor; version: string }>();

  constructor(
    readonly docker: DockerEngine,
    private readonly node: string,
  ) {}

  // Only what never changes: the rest lives in the instance's record.
  labels(id: string, diskPath: string, role: Role): Record<string, string> {
    return { ...this.owned(), [LABEL.instance]: id, [LABEL.disk]: diskPath, [LABEL.role]: role };
  }

  async mysqlds(): Promise<OwnedContainer[]> {
    return this.docker.list(this.owned({ [LABEL.role]: 'mysqld' }));
  }

  async mysqld(id: string): Promise<OwnedContainer | undefined> {
    const [row] = await this.docker.list(this.owned({ [LABEL.role]: 'mysqld', [LABEL.instance]: id }));
    return row;
  }

  // Init containers live for seconds; one left over means the agent died during a create.
  async removeLeftoverInits(): Promise<number> {
    const rows = await this.docker.list(this.owned({ [LABEL.role]: 'init' }));
    for (const r of rows) await this.docker.remove(r.id);
    return rows.length;
  }

  // Every container of the instance (mysqld and any init), stopped cleanly first; answers the
  // disk its labels named, if any.
  async removeAll(id: string): Promise<{ removed: number; diskPath?: string }> {
    const rows = await this.docker.list(this.owned({ [LABEL.instance]: id }));
    for (const r of rows) {
      if (r.labels[LABEL.role] === 'mysqld') await this.docker.stop(r.id);
      await this.docker.remove(r.id);
    }
    return { removed: rows.length, diskPath: rows.find((r) => r.labels[LABEL.disk])?.labels[LABEL.disk] };
  }

  async runInit(image: string, cmd: string[], layout: Layout, id: string, diskPath: string): Promise<void> {
    const init = await this.docker.runOnce({ image, cmd, binds: binds(layout), labels: this.labels(id, diskPath, 'init'), timeoutMs: INIT_TIMEOUT_MS });
    if (init.exitCode !== 0) throw new Error(`initializing the data directory failed (exit ${init.exitCode}): ${tail(init.output)}`);
  }

  async createMysqld(s: MysqldContainerSpec, layout: Layout): Promise<string> {
    return this.docker.createAndStart({
      // The id suffix keeps names unique even with two managers on one Docker host, the node
      // with two agents on one (a migration's source and target carry the same instance id).
      name: `berth-${s.name}-${s.id.slice(2, 8)}-${this.node}`,
      image: s.image,
      cmd: ['mysqld', `--defaults-file=${DEFAULTS_FILE}`],
      binds: binds(layout),
      labels: this.labels(s.id, s.diskPath, 'mysqld'),
      nanoCpus: s.cpuMillis * 1_000_000,
      memoryBytes: s.memoryBytes,
    });
  }

  // The flavor and version of an image's mysqld, asked once per image id (returned too: data
  // directory templates are kept per image id).
  async flavorOf(image: string): Promise<{ flavor: Flavor; version: string; imageId: string }> {
    const imageId = await this.docker.imageId(image);
    const known = this.flavors.get(imageId);
    if (known) return { ...known, imageId };
    const out = await this.docker.runOnce({ image, cmd: ['mysqld', '--version'], labels: this.owned({ [LABEL.role]: 'init' }), timeoutMs: 60_000 });
    if (out.exitCode !== 0) throw failedPrecondition(`image ${image} has no working mysqld: ${tail(out.output)}`);
    const found = parseServerVersion(out.output);
    this.flavors.set(imageId, found);
    return { ...found, imageId };
  }

  private owned(extra: Record<string, string> = {}): Record<string, string> {
    return { [LABEL.managed]: 'true', [LABEL.node]: this.node, ...extra };
  }
}
