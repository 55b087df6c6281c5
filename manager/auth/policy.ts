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
  ListOperations: 'viewer',
  CreateInstance: 'operator',
  DeleteInstance: 'operator',
  CordonNode: 'operator',
  UncordonNode: 'operator',
  RetryOperation: 'operator',
  ResizeInstance: 'operator',
  MigrateInstance: 'operator',
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
  GetCredentials: 'admin',
  RemoveNode: 'admin',
  CreateToken: 'admin',
  ListTokens: 'admin',
  RevokeToken: 'admin',
  RevokeCertificate: 'admin',
  ListRevokedCertificates: 'admin',
};

export function requiredRole(method: string): Role {
  return PORTAL_ROLES[method] ?? 'admin';
}

export function allows(have: Role, method: string): boolean {
  return RANK[have] >= RANK[requiredRole(method)];
}
