import type { DB } from './db';
import { nowIso } from './db';

export interface DiskRow {
  path: string;
  totalBytes: number;
  freeBytes: number;
}

export interface NodeRow {
  name: string;
  agentAddress: string;
  host: string;
  labels: Record<string, string>;
  cpuMillis: number;
  memoryBytes: number;
  portMin: number;
  portMax: number;
  busyPorts: number[];
  cordoned: boolean;
  agentVersion: string;
  dockerVersion: string;
  registeredAt: string;
  lastHeartbeatMs: number;
  disks: DiskRow[];
}

interface RawNode {
  name: string;
  agent_address: string;
  host: string;
  labels: string;
  cpu_millis: number;
  memory_bytes: number;
  port_min: number;
  port_max: number;
  busy_ports: string;
  cordoned: number;
  agent_version: string;
  docker_version: string;
  registered_at: string;
  last_heartbeat_ms: number;
}

export class NodesTable {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      upsert: db.prepare(`
        INSERT INTO nodes (name, agent_address, host, labels, cpu_millis, memory_bytes, port_min, port_max, busy_ports,
                           agent_version, docker_version, registered_at, last_heartbeat_ms)
        VALUES (@name, @agentAddress, @host, @labels, @cpuMillis, @memoryBytes, @portMin, @portMax, @busyPorts,
                @agentVersion, @dockerVersion, @registeredAt, @lastHeartbeatMs)
        ON CONFLICT(name) DO UPDATE SET agent_address = excluded.agent_address, host = excluded.host, labels = excluded.labels,
          cpu_millis = excluded.cpu_millis, memory_bytes = excluded.memory_bytes, port_min = excluded.port_min,
          port_max = excluded.port_max, busy_ports = excluded.busy_ports, agent_version = excluded.agent_version,
          docker_version = excluded.docker_version, last_heartbeat_ms = excluded.last_heartbeat_ms`),
      deleteDisks: db.prepare('DELETE FROM disks WHERE node = ?'),
      remove: db.prepare('DELETE FROM nodes WHERE name = ?'),
      upsertDisk: db.prepare(`
        INSERT INTO disks (node, path, total_bytes, free_bytes) VALUES (?, ?, ?, ?)
        ON CONFLICT(node, path) DO UPDATE SET total_bytes = excluded.total_bytes, free_bytes = excluded.free_bytes`),
      heartbeat: db.prepare('UPDATE nodes SET last_heartbeat_ms = ?, busy_ports = ? WHERE name = ?'),
      cordon: db.prepare('UPDATE nodes SET cordoned = ? WHERE name = ?'),
      get: db.prepare('SELECT * FROM nodes WHERE name = ?'),
      all: db.prepare('SELECT * FROM nodes ORDER BY name'),
      disks: db.prepare('SELECT path, total_bytes AS totalBytes, free_bytes AS freeBytes FROM disks WHERE node = ? ORDER BY path'),
    };
  }

  register(n: Omit<NodeRow, 'cordoned' | 'registeredAt'>): void {
    this.db.transaction(() => {
      this.q.upsert.run({ ...n, labels: JSON.stringify(n.labels), busyPorts: JSON.stringify(n.busyPorts), registeredAt: nowIso() });
      this.q.deleteDisks.run(n.name);
      for (const d of n.disks) this.q.upsertDisk.run(n.name, d.path, d.totalBytes, d.freeBytes);
    })();
  }

  heartbeat(name: string, atMs: number, disks: DiskRow[], busyPorts: number[]): void {
    this.db.transaction(() => {
      this.q.heartbeat.run(atMs, JSON.stringify(busyPorts), name);
      for (const d of disks) this.q.upsertDisk.run(name, d.path, d.totalBytes, d.freeBytes);
    })();
  }

  // Its disks go with it (ON DELETE CASCADE); instances still on it make this fail (foreign key).
  remove(name: string): void {
    this.q.remove.run(name);
  }

  setCordoned(name: string, cordoned: boolean): void {
    this.q.cordon.run(cordoned ? 1 : 0, name);
  }

  get(name: string): NodeRow | undefined {
    const r = this.q.get.get(name) as RawNode | undefined;
    return r && this.hydrate(r);
  }

  all(): NodeRow[] {
    return (this.q.all.all() as RawNode[]).map((r) => this.hydrate(r));
  }

  private hydrate(r: RawNode): NodeRow {
    return {
      name: r.name,
      agentAddress: r.agent_address,
      host: r.host,
      labels: JSON.parse(r.labels) as Record<string, string>,
      cpuMillis: r.cpu_millis,
      memoryBytes: r.memory_bytes,
      portMin: r.port_min,
      portMax: r.port_max,
      busyPorts: JSON.parse(r.busy_ports) as number[],
      cordoned: r.cordoned === 1,
      agentVersion: r.agent_version,
      dockerVersion: r.docker_version,
      registeredAt: r.registered_at,
      lastHeartbeatMs: r.last_heartbeat_ms,
      disks: this.q.disks.all(r.name) as DiskRow[],
    };
  }
}
