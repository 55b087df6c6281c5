import { nowIso, type DB } from './db';

export type EndpointKind = 'rw' | 'ro' | 'instance';

// A stable endpoint: a port on a router node, named like the HAProxy frontend that serves it.
export interface EndpointRow {
  name: string;
  kind: EndpointKind;
  clusterName: string;
  instanceId: string;
  node: string;
  port: number;
  createdAt: string;
}

const COLUMNS = 'name, kind, cluster_name AS clusterName, instance_id AS instanceId, node, port, created_at AS createdAt';

export class EndpointsTable {
  private readonly q;

  constructor(db: DB) {
    this.q = {
      all: db.prepare(`SELECT ${COLUMNS} FROM endpoints ORDER BY name`),
      ofCluster: db.prepare(`SELECT ${COLUMNS} FROM endpoints WHERE cluster_name = ? ORDER BY kind DESC, name`),
      ofInstance: db.prepare(`SELECT ${COLUMNS} FROM endpoints WHERE instance_id = ? ORDER BY name`),
      insert: db.prepare(`INSERT INTO endpoints (name, kind, cluster_name, instance_id, node, port, created_at) VALUES (@name, @kind, @clusterName, @instanceId, @node, @port, @createdAt)`),
      remove: db.prepare('DELETE FROM endpoints WHERE name = ?'),
    };
  }

  all(): EndpointRow[] {
    return this.q.all.all() as EndpointRow[];
  }

  ofCluster(name: string): EndpointRow[] {
    return this.q.ofCluster.all(name) as EndpointRow[];
  }

  ofInstance(id: string): EndpointRow[] {
    return this.q.ofInstance.all(id) as EndpointRow[];
  }

  insert(r: Omit<EndpointRow, 'createdAt'>): void {
    this.q.insert.run({ ...r, createdAt: nowIso() });
  }

  remove(name: string): void {
    this.q.remove.run(name);
  }
}
