import type { DB } from './db';
import { nowIso } from './db';
import { secretContext, type SecretBox } from '../../src/security/secretbox';

// Each sealed password is bound to its row (secretbox.ts).
export const passwordContext = (id: string) => secretContext('instances', 'admin_password', id);

// pending: reserved, not yet on the node; creating: the agent is building it; running, stopped,
// missing (its node no longer reports it); deleting; failed (a clean-up could not finish).
export type ClusterRole = '' | 'primary' | 'replica';

export type InstanceState = 'pending' | 'creating' | 'running' | 'stopped' | 'restarting' | 'missing' | 'deleting' | 'failed';

export interface InstanceRow {
  id: string;
  name: string;
  serverId: number;
  node: string;
  diskPath: string;
  port: number;
  cpuMillis: number;
  memoryBytes: number;
  diskBytes: number;
  image: string;
  state: InstanceState;
  flavor: string;
  version: string;
  containerId: string;
  adminUser: string;
  adminPassword: string;
  message: string;
  // Anti-affinity group ('' for none): instances of one group never share a host.
  antiAffinityGroup: string;
  // The same value under its old name, read by the scheduler's snapshot; kept for one release.
  cluster: string;
  // The replicated cluster this instance is a member of ('' for none) and its role there.
  clusterName: string;
  clusterRole: ClusterRole;
  // Never made writable again until rebuilt (an old primary after a failover).
  fenced: boolean;
  createdAt: string;
  updatedAt: string;
}

const COLUMNS = `id, name, server_id AS serverId, node, disk_path AS diskPath, port, cpu_millis AS cpuMillis,
  memory_bytes AS memoryBytes, disk_bytes AS diskBytes, image, state, flavor, version, container_id AS containerId,
  admin_user AS adminUser, admin_password AS adminPassword, message, anti_affinity_group AS antiAffinityGroup,
  anti_affinity_group AS cluster, cluster_name AS clusterName, cluster_role AS clusterRole, fenced,
  created_at AS createdAt, updated_at AS updatedAt`;

export class InstancesTable {
  private readonly q;
  // Seals admin passwords at rest (AES-256-GCM); set by the manager at start-up.
  private box?: SecretBox;

  constructor(private readonly db: DB) {
    this.q = {
      nextServerId: db.prepare(`
        INSERT INTO counters (name, value) VALUES ('server_id', 1)
        ON CONFLICT(name) DO UPDATE SET value = value + 1 RETURNING value`),
      insert: db.prepare(`
        INSERT INTO instances (id, name, server_id, node, disk_path, port, cpu_millis, memory_bytes, disk_bytes, image, state,
                               admin_user, admin_password, anti_affinity_group, cluster_name, cluster_role, created_at, updated_at)
        VALUES (@id, @name, @serverId, @node, @diskPath, @port, @cpuMillis, @memoryBytes, @diskBytes, @image, @state,
                @adminUser, @adminPassword, @group, @clusterName, @clusterRole, @createdAt, @createdAt)`),
      resize: db.prepare('UPDATE instances SET cpu_millis = @cpuMillis, memory_bytes = @memoryBytes, disk_bytes = @diskBytes, updated_at = @updatedAt WHERE id = @id'),
      move: db.prepare('UPDATE instances SET node = @node, disk_path = @diskPath, port = @port, server_id = COALESCE(@serverId, server_id), updated_at = @updatedAt WHERE id = @id'),
      get: db.prepare(`SELECT ${COLUMNS} FROM instances WHERE id = ?`),
      byName: db.prepare(`SELECT ${COLUMNS} FROM instances WHERE name = ?`),
      all: db.prepare(`SELECT ${COLUMNS} FROM instances ORDER BY created_at, id`),
      onNode: db.prepare(`SELECT ${COLUMNS} FROM instances WHERE node = ? ORDER BY created_at, id`),
      idsOnNode: db.prepare('SELECT id FROM instances WHERE node = ?'),
      inCluster: db.prepare(`SELECT ${COLUMNS} FROM instances WHERE cluster_name = ? ORDER BY cluster_role = 'replica', created_at, id`),
      setMembership: db.prepare('UPDATE instances SET cluster_name = @clusterName, cluster_role = @clusterRole, updated_at = @updatedAt WHERE id = @id'),
      setFenced: db.prepare('UPDATE instances SET fenced = @fenced, updated_at = @updatedAt WHERE id = @id'),
      update: db.prepare(`
        UPDATE instances SET state = @state, flavor = COALESCE(@flavor, flavor), version = COALESCE(@version, version),
          container_id = COALESCE(@containerId, container_id), message = COALESCE(@message, message), updated_at = @updatedAt
        WHERE id = @id`),
      delete: db.prepare('DELETE FROM instances WHERE id = ?'),
      passwords: db.prepare('SELECT id, admin_password AS sealed FROM instances'),
      setPassword: db.prepare('UPDATE instances SET admin_password = ? WHERE id = ?'),
    };
  }

  useSecrets(box: SecretBox): void {
    this.box = box;
  }

  // Stored (sealed or, before the migration, plain) passwords, for re-sealing under a new key.
  storedPasswords(): { id: string; sealed: string }[] {
    return this.q.passwords.all() as { id: string; sealed: string }[];
  }

  setStoredPassword(id: string, sealed: string): void {
    this.q.setPassword.run(sealed, id);
  }

  // The password is opened when it is read, not when the row is: most readers (reconciling a
  // heartbeat, alert rules over every instance, the views) never look at it, and opening every
  // row's showed in the manager's profile at fleet scale. An own, enumerable accessor, so a
  // spread or JSON copy of the row still carries the plain password.
  private open<T extends InstanceRow | undefined>(r: T): T {
    const box = this.box;
    if (!r) return r;
    const row = { ...r, fenced: Boolean(r.fenced) };
    if (!box) return row as T;
    const sealed = r.adminPassword;
    const id = r.id;
    let plain: string | undefined;
    return Object.defineProperty(row, 'adminPassword', {
      enumerable: true,
      configurable: true,
      get: () => (plain ??= box.open(sealed, passwordContext(id))),
      set: (v: string) => void (plain = v),
    }) as T;
  }

  nextServerId(): number {
    return (this.q.nextServerId.get() as { value: number }).value;
  }

  // `cluster` is the anti-affinity group's old name, still accepted.
  insert(
    r: Omit<InstanceRow, 'flavor' | 'version' | 'containerId' | 'message' | 'updatedAt' | 'createdAt' | 'cluster' | 'antiAffinityGroup' | 'clusterName' | 'clusterRole' | 'fenced'> & {
      antiAffinityGroup?: string;
      cluster?: string;
      clusterName?: string;
      clusterRole?: ClusterRole;
    },
  ): InstanceRow {
    const createdAt = nowIso();
    const { cluster, antiAffinityGroup, clusterName, clusterRole, ...rest } = r;
    const adminPassword = this.box ? this.box.seal(rest.adminPassword, passwordContext(rest.id)) : rest.adminPassword;
    this.q.insert.run({ ...rest, adminPassword, group: antiAffinityGroup ?? cluster ?? '', clusterName: clusterName ?? '', clusterRole: clusterRole ?? '', createdAt });
    return this.get(r.id)!;
  }

  resize(id: string, shape: { cpuMillis: number; memoryBytes: number; diskBytes: number }): void {
    this.q.resize.run({ id, ...shape, updatedAt: nowIso() });
  }

  // Node, disk and port together: UNIQUE(node, port) refuses a taken port on the target.
  move(id: string, to: { node: string; diskPath: string; port: number; serverId?: number }): void {
    this.q.move.run({ id, node: to.node, diskPath: to.diskPath, port: to.port, serverId: to.serverId ?? null, updatedAt: nowIso() });
  }

  get(id: string): InstanceRow | undefined {
    return this.open(this.q.get.get(id) as InstanceRow | undefined);
  }

  // Accepts an id or a name: DBAs type names, scripts keep ids.
  find(idOrName: string): InstanceRow | undefined {
    return this.get(idOrName) ?? this.open(this.q.byName.get(idOrName) as InstanceRow | undefined);
  }

  all(): InstanceRow[] {
    return (this.q.all.all() as InstanceRow[]).map((r) => this.open(r));
  }

  // Only the ids (no row decoding, no password opened): what a heartbeat is checked against.
  idsOnNode(node: string): string[] {
    return (this.q.idsOnNode.all(node) as { id: string }[]).map((r) => r.id);
  }

  onNode(node: string): InstanceRow[] {
    return (this.q.onNode.all(node) as InstanceRow[]).map((r) => this.open(r));
  }

  // Members of a replicated cluster, the primary first.
  inCluster(name: string): InstanceRow[] {
    return (this.q.inCluster.all(name) as InstanceRow[]).map((r) => this.open(r));
  }

  // The unique index instances_one_primary refuses a second primary in one cluster.
  setMembership(id: string, clusterName: string, clusterRole: ClusterRole): void {
    this.q.setMembership.run({ id, clusterName, clusterRole, updatedAt: nowIso() });
  }

  setFenced(id: string, fenced: boolean): void {
    this.q.setFenced.run({ id, fenced: fenced ? 1 : 0, updatedAt: nowIso() });
  }

  update(id: string, u: { state: InstanceState; flavor?: string; version?: string; containerId?: string; message?: string }): void {
    this.q.update.run({ id, state: u.state, flavor: u.flavor ?? null, version: u.version ?? null, containerId: u.containerId ?? null, message: u.message ?? null, updatedAt: nowIso() });
  }

  delete(id: string): void {
    this.q.delete.run(id);
  }
}
