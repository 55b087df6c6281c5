import type { Role } from '../../src/tls/ca';

export const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

// What each portal RPC needs. viewer: reads, plans and capacity; operator: changes to instances
// and nodes; admin: credentials, node removal and tokens. An RPC missing here needs admin, so a
// new RPC is closed until someone decides otherwise.
export const PORTAL_ROLES: Record<string, Role> = {
  GetInstance: 'viewer',
  ListInstances: 'viewer',
  PlanInstance: 'viewer',
  ListNodes: 'viewer',
  GetOperation: 'viewer',
  WaitOperation: 'viewer',
  WatchOperations: 'viewer',
  WatchEvents: 'viewer',
  CreateInstance: 'operator',
  DeleteInstance: 'operator',
  CordonNode: 'operator',
  UncordonNode: 'operator',
  RetryOperation: 'operator',
  ResizeInstance: 'operator',
  DrainNode: 'operator',
  GetCluster: 'viewer',
  ListClusters: 'viewer',
  GetClusterEndpoints: 'viewer',
  ListClusterHistory: 'viewer',
  CreateCluster: 'operator',
  DeleteCluster: 'operator',
  AddReplica: 'operator',
  RemoveReplica: 'operator',
  Switchover: 'operator',
  AcknowledgeFailover: 'operator',
  ListDiscardedData: 'viewer',
  // Backups: reading the catalog is a view; taking, deleting and restoring change the fleet or
  // the repository. A restore makes a new instance whose admin password only an admin reads
  // (GetCredentials), as after a create.
  ListBackups: 'viewer',
  GetBackup: 'viewer',
  CreateBackup: 'operator',
  DeleteBackup: 'operator',
  RestoreBackup: 'operator',
  SyncBackupCatalog: 'operator',
  // Turning continuous binlog archiving on or off changes what the fleet runs; its state is a view.
  SetBinlogArchiving: 'operator',
  GetBinlogArchive: 'viewer',
  // Policies: reading them and the drills' status is a view; setting one starts backups.
  ListBackupPolicies: 'viewer',
  GetBackupPolicy: 'viewer',
  GetBackupStatus: 'viewer',
  SetBackupPolicy: 'operator',
  DeleteBackupPolicy: 'operator',
  GetCredentials: 'admin',
  RemoveNode: 'admin',
  CreateToken: 'admin',
  ListTokens: 'admin',
  RevokeToken: 'admin',
  RevokeCertificate: 'admin',
  ListRevokedCertificates: 'admin',
};

// What each admin HTTP route needs, by its route pattern (the /v1 routes; `/`, /healthz,
// /metrics and /docs are public, manager/http/auth.ts). A route missing here needs admin, as a
// portal RPC does: a new route is closed until someone decides, and the attack suite
// (test/attack-matrix.test.ts) fails until it is listed.
export const HTTP_ROLES: Record<string, Role> = {
  'GET /v1/capacity': 'viewer',
  // Computes only (on a copy of the fleet): a read.
  'GET /v1/capacity/fit': 'viewer',
  'POST /v1/capacity/fit': 'viewer',
  'GET /v1/capacity/history': 'viewer',
  'GET /v1/capacity/forecast': 'viewer',
  'GET /v1/nodes': 'viewer',
  'GET /v1/nodes/:name': 'viewer',
  'POST /v1/nodes/:name/cordon': 'operator',
  'POST /v1/nodes/:name/uncordon': 'operator',
  'POST /v1/nodes/:name/drain': 'operator',
  'GET /v1/instances': 'viewer',
  'GET /v1/operations': 'viewer',
  'GET /v1/events': 'viewer',
  'GET /v1/alerts': 'viewer',
  'GET /v1/expansions': 'viewer',
  'GET /v1/clusters': 'viewer',
  'GET /v1/clusters/:name': 'viewer',
  'GET /v1/endpoints': 'viewer',
  'GET /v1/backups': 'viewer',
  'GET /v1/backup-policies': 'viewer',
  'GET /v1/backups/status': 'viewer',
};

// The role an admin HTTP request needs: its route's entry; admin for a route without one; a
// URL no route matches (answered 404) needs viewer, so a viewer learns nothing more than 404.
export function httpRequiredRole(method: string, route: string | undefined): Role {
  if (route === undefined) return 'viewer';
  return HTTP_ROLES[`${method === 'HEAD' ? 'GET' : method} ${route}`] ?? 'admin';
}

export function requiredRole(method: string): Role {
  return PORTAL_ROLES[method] ?? 'admin';
}

export function allows(have: Role, method: string): boolean {
  return RANK[have] >= RANK[requiredRole(method)];
}
